"""inventory: reservations, stock movements ledger, per-buyer limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = kuaidan.core.db.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("stock_levels") as batch:
        batch.add_column(sa.Column("per_buyer_limit", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_stock_levels_per_buyer_limit_positive"),
            "per_buyer_limit IS NULL OR per_buyer_limit > 0",
        )
    op.create_table(
        "reservations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_reservations_quantity_positive")),
        sa.CheckConstraint(
            "status IN ('open', 'released', 'consumed')", name=op.f("ck_reservations_status")
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"],
            ["stock_levels.sku_id"],
            name=op.f("fk_reservations_sku_id_stock_levels"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    op.create_index(op.f("ix_reservations_holder"), "reservations", ["holder"])
    op.create_index("ix_reservations_sku_id_status", "reservations", ["sku_id", "status"])
    op.create_index("ix_reservations_buyer_id_sku_id", "reservations", ["buyer_id", "sku_id"])
    op.create_table(
        "stock_movements",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("at", UTC(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('initial', 'restock', 'adjust', 'sold')",
            name=op.f("ck_stock_movements_kind"),
        ),
        sa.CheckConstraint(
            "(kind = 'initial' AND quantity >= 0) OR (kind = 'restock' AND quantity > 0)"
            " OR (kind = 'adjust' AND quantity <> 0) OR (kind = 'sold' AND quantity < 0)",
            name=op.f("ck_stock_movements_quantity_sign"),
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"],
            ["stock_levels.sku_id"],
            name=op.f("fk_stock_movements_sku_id_stock_levels"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    op.create_index("ix_stock_movements_sku_id_id", "stock_movements", ["sku_id", "id"])
    _record_opening_stock()


def _record_opening_stock() -> None:
    """Stock that predates the ledger becomes each SKU's initial movement."""
    op.execute(
        "INSERT INTO stock_movements (sku_id, kind, quantity, reference, at) "
        "SELECT sku_id, 'initial', on_hand, 'opening balance', updated_at FROM stock_levels"
    )


def downgrade() -> None:
    op.drop_index("ix_stock_movements_sku_id_id", table_name="stock_movements")
    op.drop_table("stock_movements")
    op.drop_index("ix_reservations_buyer_id_sku_id", table_name="reservations")
    op.drop_index("ix_reservations_sku_id_status", table_name="reservations")
    op.drop_index(op.f("ix_reservations_holder"), table_name="reservations")
    op.drop_table("reservations")
    with op.batch_alter_table("stock_levels") as batch:
        batch.drop_constraint(op.f("ck_stock_levels_per_buyer_limit_positive"), type_="check")
        batch.drop_column("per_buyer_limit")
