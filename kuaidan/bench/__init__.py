"""Load generators for ``kuaidan bench``: checkout, flash sale, mixed, and the database's limit.

Composition level: it may import any public module, and nothing imports it.
"""
