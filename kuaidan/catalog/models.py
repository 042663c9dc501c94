"""catalog tables: categories, products and their SKUs.

``products.merchant_id`` references the merchants table at the database level only; the code
reaches merchants through ``merchants.service``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    # Days of no-reason return: NULL inherits the parent's (at the top, the platform default),
    # 0 means none, 1..30 that many days.
    no_reason_return_days: Mapped[int | None]


class Product(Base):
    """A listing. Price range and in_stock are cached from its SKUs by the catalog service."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'pending_review', 'listed', 'delisted')", name="status"
        ),
        CheckConstraint("min_price_fen <= max_price_fen", name="price_range"),
        CheckConstraint("sales_count >= 0", name="sales_count_nonneg"),
        Index("ix_products_status_category_id", "status", "category_id"),
        Index("ix_products_min_price_fen", "min_price_fen"),
        Index("ix_products_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Title and description as search tokens between spaces (catalog.domain.search_text).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    specs: Mapped[list[Any]] = mapped_column(JSON)
    images: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    min_price_fen: Mapped[int]
    max_price_fen: Mapped[int]
    in_stock: Mapped[bool] = mapped_column(default=False)
    sales_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Sku(Base):
    """One sellable variant (e.g. colour × size) of a product, with its own price."""

    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("list_price_fen IS NULL OR list_price_fen > 0", name="list_price_positive"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    attributes: Mapped[dict[str, str]] = mapped_column(JSON)
    price_fen: Mapped[int]
    list_price_fen: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    position: Mapped[int] = mapped_column(default=0, server_default="0")
