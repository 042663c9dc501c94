"""Shared kernel: database and unit of work, money, clock, errors, crypto. No business rules."""
