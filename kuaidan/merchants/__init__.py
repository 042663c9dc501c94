"""merchants."""
