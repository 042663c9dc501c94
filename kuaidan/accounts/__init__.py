"""Accounts: users, roles, page sessions, API tokens, lockout, address book."""
