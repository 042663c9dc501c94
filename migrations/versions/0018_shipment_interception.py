"""logistics: a shipment remembers that the platform asked the carrier to intercept it

So that the exception detection job tells a parcel coming back because it was intercepted from
one coming back on its own. Shipments intercepted before this migration are not marked.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("logistics_shipments") as batch:
        batch.add_column(sa.Column("intercepted_at", kuaidan.core.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("logistics_shipments") as batch:
        batch.drop_column("intercepted_at")
