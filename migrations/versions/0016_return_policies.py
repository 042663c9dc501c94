"""merchants and catalog: return addresses and per-category return windows

A merchant gets a return address (退货地址): recipient, phone and street line encrypted, the
province and city in clear as logistics names them. A category gets its no-reason return
window in days (NULL inherits the parent's, 0 means none).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("return_recipient_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("return_phone_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("return_line_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("return_province", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("return_city", sa.String(length=50), nullable=True))
    with op.batch_alter_table("categories") as batch:
        batch.add_column(sa.Column("no_reason_return_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("no_reason_return_days")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("return_city")
        batch.drop_column("return_province")
        batch.drop_column("return_line_enc")
        batch.drop_column("return_phone_enc")
        batch.drop_column("return_recipient_enc")
