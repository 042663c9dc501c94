"""logistics: carriers, shipments, tracking pushes and scans, ETA predictions, exception
cases, delivery ratings and carrier scorecards

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "logistics_carriers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=False),
        sa.Column("status_changed_at", UTC(), nullable=False),
        sa.Column("qualifications", sa.JSON(), nullable=False),
        sa.Column("service_area", sa.JSON(), nullable=False),
        sa.Column("price_table", sa.JSON(), nullable=False),
        sa.Column("agreement", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'probation', 'suspended')",
            name=op.f("ck_logistics_carriers_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_carriers")),
        sa.UniqueConstraint("code", name=op.f("uq_logistics_carriers_code")),
    )
    op.create_table(
        "logistics_shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("order_number", sa.String(length=32), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=True),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("carrier_code", sa.String(length=30), nullable=False),
        sa.Column("tracking_number", sa.String(length=40), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("booking", sa.String(length=10), nullable=False),
        sa.Column("booking_error", sa.Text(), nullable=True),
        sa.Column("recipient_enc", sa.Text(), nullable=False),
        sa.Column("origin_province", sa.String(length=10), nullable=False),
        sa.Column("origin_city", sa.String(length=50), nullable=False),
        sa.Column("dest_province", sa.String(length=10), nullable=False),
        sa.Column("dest_city", sa.String(length=50), nullable=False),
        sa.Column("zone", sa.String(length=20), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("promise_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.String(length=20), nullable=False),
        sa.Column("status_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("booked_at", UTC(), nullable=True),
        sa.Column("picked_up_at", UTC(), nullable=True),
        sa.Column("in_city_at", UTC(), nullable=True),
        sa.Column("out_for_delivery_at", UTC(), nullable=True),
        sa.Column("delivered_at", UTC(), nullable=True),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("damaged_at", UTC(), nullable=True),
        sa.Column("last_scan_at", UTC(), nullable=True),
        sa.Column("eta_earliest", UTC(), nullable=True),
        sa.Column("eta_latest", UTC(), nullable=True),
        sa.Column("eta_stage", sa.String(length=30), nullable=True),
        sa.Column("eta_basis", sa.String(length=10), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "booking IN ('pending', 'booked', 'failed')",
            name=op.f("ck_logistics_shipments_booking"),
        ),
        sa.CheckConstraint(
            "status IN ('created', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'problem', 'returning', 'returned', 'refused', 'lost', 'damaged', 'cancelled')",
            name=op.f("ck_logistics_shipments_status"),
        ),
        sa.CheckConstraint(
            "weight_g > 0 AND price_fen >= 0", name=op.f("ck_logistics_shipments_positive")
        ),
        sa.ForeignKeyConstraint(
            ["carrier_id"],
            ["logistics_carriers.id"],
            name=op.f("fk_logistics_shipments_carrier_id_logistics_carriers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_shipments")),
        sa.UniqueConstraint(
            "carrier_code",
            "tracking_number",
            name=op.f("uq_logistics_shipments_carrier_code_tracking_number"),
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_logistics_shipments_reference")),
    )
    op.create_index(
        "ix_logistics_shipments_lane",
        "logistics_shipments",
        ["carrier_id", "origin_province", "dest_province", "delivered_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_logistics_shipments_merchant_id"),
        "logistics_shipments",
        ["merchant_id"],
        unique=False,
    )
    op.create_index(
        "ix_logistics_shipments_open",
        "logistics_shipments",
        ["status", "last_scan_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_logistics_shipments_order_id"), "logistics_shipments", ["order_id"], unique=False
    )
    op.create_table(
        "logistics_callbacks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("carrier_code", sa.String(length=30), nullable=True),
        sa.Column("tracking_number", sa.String(length=40), nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("new_scans", sa.Integer(), nullable=False),
        sa.Column("param", sa.Text(), nullable=False),
        sa.Column("sign", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_callbacks")),
    )
    op.create_index(
        "ix_logistics_callbacks_parcel",
        "logistics_callbacks",
        ["tracking_number", "carrier_code"],
        unique=False,
    )
    op.create_table(
        "logistics_scans",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("scanned_at", UTC(), nullable=False),
        sa.Column("context", sa.String(length=500), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=4), nullable=True),
        sa.Column("sub_code", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column(
            "callback_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("received_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["logistics_shipments.id"],
            name=op.f("fk_logistics_scans_shipment_id_logistics_shipments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_scans")),
        sa.UniqueConstraint(
            "shipment_id", "fingerprint", name=op.f("uq_logistics_scans_shipment_id_fingerprint")
        ),
    )
    op.create_table(
        "logistics_eta_predictions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("predicted_at", UTC(), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("earliest", UTC(), nullable=False),
        sa.Column("latest", UTC(), nullable=False),
        sa.Column("basis", sa.String(length=10), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["logistics_shipments.id"],
            name=op.f("fk_logistics_eta_predictions_shipment_id_logistics_shipments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_eta_predictions")),
    )
    op.create_index(
        op.f("ix_logistics_eta_predictions_shipment_id"),
        "logistics_eta_predictions",
        ["shipment_id"],
        unique=False,
    )
    op.create_table(
        "logistics_exception_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("trigger_at", UTC(), nullable=False),
        sa.Column("opened_at", UTC(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("resolution", sa.String(length=10), nullable=True),
        sa.Column("claim_fen", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("resolved_at", UTC(), nullable=True),
        sa.Column("resolved_by", sa.String(length=50), nullable=True),
        sa.CheckConstraint(
            "kind IN ('no_pickup', 'stale_in_transit', 'stale_at_destination', 'problem', 'returning', 'refused', 'lost', 'damaged')",
            name=op.f("ck_logistics_exception_cases_kind"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('chase', 'reship', 'refund', 'claim')",
            name=op.f("ck_logistics_exception_cases_resolution"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')", name=op.f("ck_logistics_exception_cases_status")
        ),
        sa.CheckConstraint("claim_fen >= 0", name=op.f("ck_logistics_exception_cases_claim")),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["logistics_shipments.id"],
            name=op.f("fk_logistics_exception_cases_shipment_id_logistics_shipments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_exception_cases")),
        sa.UniqueConstraint(
            "shipment_id",
            "kind",
            "trigger_at",
            name=op.f("uq_logistics_exception_cases_shipment_id_kind_trigger_at"),
        ),
    )
    op.create_index(
        "ix_logistics_exception_cases_status",
        "logistics_exception_cases",
        ["status", "opened_at"],
        unique=False,
    )
    op.create_table(
        "logistics_delivery_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("rated_at", UTC(), nullable=False),
        sa.CheckConstraint(
            "stars BETWEEN 1 AND 5", name=op.f("ck_logistics_delivery_ratings_stars")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["logistics_shipments.id"],
            name=op.f("fk_logistics_delivery_ratings_shipment_id_logistics_shipments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_delivery_ratings")),
        sa.UniqueConstraint("shipment_id", name=op.f("uq_logistics_delivery_ratings_shipment_id")),
    )
    op.create_index(
        op.f("ix_logistics_delivery_ratings_carrier_id"),
        "logistics_delivery_ratings",
        ["carrier_id"],
        unique=False,
    )
    op.create_table(
        "logistics_scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("period_start", UTC(), nullable=False),
        sa.Column("period_end", UTC(), nullable=False),
        sa.Column("shipments", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("intact", sa.Integer(), nullable=False),
        sa.Column("with_exceptions", sa.Integer(), nullable=False),
        sa.Column("claims_fen", sa.BigInteger(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.Double(), nullable=True),
        sa.Column("breaches", sa.JSON(), nullable=False),
        sa.Column("status_after", sa.String(length=20), nullable=False),
        sa.Column("computed_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_id"],
            ["logistics_carriers.id"],
            name=op.f("fk_logistics_scorecards_carrier_id_logistics_carriers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logistics_scorecards")),
        sa.UniqueConstraint(
            "carrier_id",
            "period_start",
            "period_end",
            name=op.f("uq_logistics_scorecards_carrier_id_period_start_period_end"),
        ),
    )


def downgrade() -> None:
    op.drop_table("logistics_scorecards")
    op.drop_table("logistics_delivery_ratings")
    op.drop_table("logistics_exception_cases")
    op.drop_table("logistics_eta_predictions")
    op.drop_table("logistics_scans")
    op.drop_table("logistics_callbacks")
    op.drop_table("logistics_shipments")
    op.drop_table("logistics_carriers")
