"""catalog tables."""
