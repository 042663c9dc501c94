"""Outside parties the merchants area talks to: the merchants' own webhook receivers."""
