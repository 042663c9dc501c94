"""Logistics: carriers, selection, shipments, tracking, ETA, exceptions, scorecards."""
