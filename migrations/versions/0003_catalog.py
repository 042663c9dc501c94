"""merchants, catalog and inventory: merchants, categories, products, SKUs, stock levels

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("name_en", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("logo_path", sa.String(300), nullable=True),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("credit_score", sa.Integer(), server_default="100", nullable=False),
        sa.Column("created_at", kuaidan.core.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_merchants_status")),
        sa.CheckConstraint("credit_score >= 0", name=op.f("ck_merchants_credit_score_nonneg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
        sa.UniqueConstraint("slug", name=op.f("uq_merchants_slug")),
    )
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("name_en", sa.String(60), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["categories.id"], name=op.f("fk_categories_parent_id_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    op.create_index(op.f("ix_categories_parent_id"), "categories", ["parent_id"])
    _create_products()
    _create_skus()
    op.create_table(
        "stock_levels",
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("on_hand", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", kuaidan.core.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_levels_on_hand_nonneg")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_stock_levels_reserved_nonneg")),
        sa.CheckConstraint(
            "reserved <= on_hand", name=op.f("ck_stock_levels_reserved_within_on_hand")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_stock_levels_sku_id_skus")),
        sa.PrimaryKeyConstraint("sku_id", name=op.f("pk_stock_levels")),
    )


def _create_products() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("specs", sa.JSON(), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("min_price_fen", sa.Integer(), nullable=False),
        sa.Column("max_price_fen", sa.Integer(), nullable=False),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("sales_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", kuaidan.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kuaidan.core.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'pending_review', 'listed', 'delisted')",
            name=op.f("ck_products_status"),
        ),
        sa.CheckConstraint("min_price_fen <= max_price_fen", name=op.f("ck_products_price_range")),
        sa.CheckConstraint("sales_count >= 0", name=op.f("ck_products_sales_count_nonneg")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_products_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name=op.f("fk_products_category_id_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(op.f("ix_products_merchant_id"), "products", ["merchant_id"])
    op.create_index("ix_products_status_category_id", "products", ["status", "category_id"])
    op.create_index("ix_products_status_created_at", "products", ["status", "created_at"])
    op.create_index("ix_products_min_price_fen", "products", ["min_price_fen"])


def _create_skus() -> None:
    op.create_table(
        "skus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("list_price_fen", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_skus_price_positive")),
        sa.CheckConstraint(
            "list_price_fen IS NULL OR list_price_fen > 0", name=op.f("ck_skus_list_price_positive")
        ),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("ck_skus_status")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_skus_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skus")),
        sa.UniqueConstraint("code", name=op.f("uq_skus_code")),
    )
    op.create_index(op.f("ix_skus_product_id"), "skus", ["product_id"])


def downgrade() -> None:
    op.drop_table("stock_levels")
    op.drop_index(op.f("ix_skus_product_id"), table_name="skus")
    op.drop_table("skus")
    op.drop_index("ix_products_min_price_fen", table_name="products")
    op.drop_index("ix_products_status_created_at", table_name="products")
    op.drop_index("ix_products_status_category_id", table_name="products")
    op.drop_index(op.f("ix_products_merchant_id"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_categories_parent_id"), table_name="categories")
    op.drop_table("categories")
    op.drop_table("merchants")
