"""catalog: products keep their title and description as search tokens

Search matched substrings, so "tee" found "steel". Products now store their words between
spaces (``catalog.domain.search_text``) and search matches whole Latin words and CJK runs in
one column; existing products are filled in here.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kuaidan.catalog.domain import search_text

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "products", sa.Column("search_text", sa.Text(), nullable=False, server_default="")
    )
    products = sa.table(
        "products",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("description", sa.Text),
        sa.column("search_text", sa.Text),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(products.c.id, products.c.title, products.c.description))
    for product_id, title, description in rows.all():
        bind.execute(
            products.update()
            .where(products.c.id == product_id)
            .values(search_text=search_text(title, description or ""))
        )


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("search_text")
