"""ordering: a checkout's reference is random and stored, never derived from its id alone

The reference is the payment's trade number at the provider. Derived from the checkout id, it
repeated after a database was reset or restored while the provider still held the old trades,
and a new checkout could be taken for paid by an old trade. New checkouts get a random
reference, stored (unique) with the checkout and copied onto its orders; rows written before
keep their derived reference (NULL here).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("reference", sa.String(32), nullable=True))
    op.create_index("ix_checkouts_reference", "checkouts", ["reference"], unique=True)
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("checkout_reference", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("checkout_reference")
    op.drop_index("ix_checkouts_reference", table_name="checkouts")
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_column("reference")
