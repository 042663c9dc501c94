"""inventory tables."""
