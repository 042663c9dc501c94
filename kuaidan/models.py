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
    "ordering.aftersales",
    "ordering.changes",
    "ordering.interception",
    "risk",
    "security",
    "logistics",
)


def import_all_models() -> None:
    importlib.import_module("kuaidan.core.outbox")
    importlib.import_module("kuaidan.core.notify")
    for area in AREAS_WITH_MODELS:
        importlib.import_module(f"kuaidan.{area}.models")
