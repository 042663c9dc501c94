"""Payment providers behind one small interface (``base.PaymentProvider``)."""
