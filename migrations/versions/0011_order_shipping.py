"""ordering and logistics: shipping an order through a carrier

Merchants get a ship-from place (province and city, as ``logistics.domain.geo`` names them)
and an opt-in to book a carrier automatically when an order is paid; an order remembers its
current shipment's reference in the logistics area.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("ship_from_province", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("ship_from_city", sa.String(length=50), nullable=True))
        batch.add_column(
            sa.Column("auto_book_carrier", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("shipment_reference", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("shipment_reference")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("auto_book_carrier")
        batch.drop_column("ship_from_city")
        batch.drop_column("ship_from_province")
