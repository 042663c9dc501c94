"""Imports every area's tables so that Alembic and tests see the whole schema."""

from __future__ import annotations

import importlib

AREAS_WITH_MODELS = (
    "ops",
    "accounts",
    "merchants",
    "catalog",
    "inventory",
    "payments",
    "ordering",
)


def import_all_models() -> None:
    importlib.import_module("kuaidan.core.outbox")
    for area in AREAS_WITH_MODELS:
        importlib.import_module(f"kuaidan.{area}.models")
