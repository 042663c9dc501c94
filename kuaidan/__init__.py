"""kuaidan (快单): a 24/7 online ordering platform for a live-commerce marketplace."""

__version__ = "0.1.0"
