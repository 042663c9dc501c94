"""ETA use cases: estimate a shipment's arrival from its lane's history, keep every
prediction, and measure how good they were once parcels were delivered."""

from __future__ import annotations

from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.logistics import repository
from kuaidan.logistics.domain import EtaAccuracy, ShipmentStatus
from kuaidan.logistics.domain.eta import EtaOutcome, Milestones, estimate_eta, eta_accuracy
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
    estimate = estimate_eta(
        milestones_of(row),
        history=[Milestones(*past) for past in history],
        promise_days=row.promise_days,
        now=uow.now(),
    )
    if estimate is None:
        return
    row.eta_earliest, row.eta_latest = estimate.earliest, estimate.latest
    row.eta_stage, row.eta_basis = estimate.stage.value, estimate.basis
    prediction = EtaPrediction(
        shipment_id=row.id,
        predicted_at=uow.now(),
        stage=estimate.stage.value,
        earliest=estimate.earliest,
        latest=estimate.latest,
        basis=estimate.basis,
        samples=estimate.samples,
    )
    uow.session.add(prediction)


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
