"""ETA use cases: estimate a shipment's arrival from its lane's history, keep every
prediction, and measure how good they were once parcels were delivered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kuaidan.core.db import UnitOfWork
from kuaidan.logistics import repository
from kuaidan.logistics.domain import EtaAccuracy, ShipmentStatus
from kuaidan.logistics.domain.eta import (
    EtaOutcome,
    Milestones,
    PredictionRecord,
    Stage,
    estimate_eta,
    eta_accuracy,
)
from kuaidan.logistics.domain.tracking import is_terminal
from kuaidan.logistics.models import EtaPrediction, Shipment
from kuaidan.logistics.service._common import milestones_of

HISTORY_LIMIT = 200


async def refresh_eta(uow: UnitOfWork, row: Shipment) -> None:
    """Inside the caller's transaction: a new estimate for ``row``'s current stage, stored."""
    if is_terminal(ShipmentStatus(row.status)):
        return
    history = await repository.lane_history(
        uow.session,
        carrier_id=row.carrier_id,
        origin=row.origin_province,
        destination=row.dest_province,
        limit=HISTORY_LIMIT,
    )
    prediction = estimate_onto(row, [Milestones(*past) for past in history], now=uow.now())
    if prediction is not None:
        uow.session.add(EtaPrediction(**prediction))


def estimate_onto(
    row: Shipment, history: Sequence[Milestones], *, now: datetime
) -> dict[str, Any] | None:
    """Estimate ``row``'s arrival from its lane's ``history`` and set it on the row; the
    prediction's values to store, or None when there is nothing to predict. The batched
    tracking apply uses it with a history loaded once per batch."""
    if is_terminal(ShipmentStatus(row.status)):
        return None
    estimate = estimate_eta(
        milestones_of(row), history=history, promise_days=row.promise_days, now=now
    )
    if estimate is None:
        return None
    row.eta_earliest, row.eta_latest = estimate.earliest, estimate.latest
    row.eta_stage, row.eta_basis = estimate.stage.value, estimate.basis
    return {
        "shipment_id": row.id,
        "predicted_at": now,
        "stage": estimate.stage.value,
        "earliest": estimate.earliest,
        "latest": estimate.latest,
        "basis": estimate.basis,
        "samples": estimate.samples,
    }


async def eta_accuracy_report(
    *, uow: UnitOfWork, since: datetime, until: datetime, carrier_code: str | None = None
) -> EtaAccuracy:
    """How the predictions of shipments delivered in [since, until) fared."""
    carrier_id = None
    if carrier_code is not None:
        carrier = await repository.get_carrier(uow.session, code=carrier_code)
        carrier_id = carrier.id if carrier else -1
    rows = await repository.predictions_delivered(
        uow.session, since=since, until=until, carrier_id=carrier_id
    )
    return eta_accuracy([EtaOutcome(r[0], r[1], r[2]) for r in rows])


PREDICTIONS_CHUNK = 500


async def eta_predictions(*, uow: UnitOfWork, references: Sequence[str]) -> list[PredictionRecord]:
    """Every ETA predicted for these shipments, oldest first, each with its shipment's
    milestones (a bench or an audit compares them with the deliveries)."""
    found: list[PredictionRecord] = []
    for start in range(0, len(references), PREDICTIONS_CHUNK):
        chunk = list(references[start : start + PREDICTIONS_CHUNK])
        for prediction, row in await repository.predictions_of(uow.session, references=chunk):
            found.append(
                PredictionRecord(
                    reference=row.reference,
                    carrier_code=row.carrier_code,
                    status=row.status,
                    stage=Stage(prediction.stage),
                    basis=prediction.basis,
                    samples=prediction.samples,
                    predicted_at=prediction.predicted_at,
                    earliest=prediction.earliest,
                    latest=prediction.latest,
                    milestones=milestones_of(row),
                )
            )
    return found
