"""The demo marketplace behind ``kuaidan demo``: hand-written catalogue data, locally drawn
product pictures, and an idempotent seed that goes through the areas' services.

Composition level, like the CLI: only ``kuaidan.cli`` imports it.
"""
