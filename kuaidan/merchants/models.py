"""merchants tables."""
