"""Outside parties of logistics: carriers, reached through a tracking aggregator."""
