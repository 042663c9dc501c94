"""Shipment use cases: request one (the carrier is booked by a handler, after commit), read
it, cancel it before pickup, and ask the carrier to intercept it."""

from __future__ import annotations

import logging
import secrets

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput
from kuaidan.core.outbox import publish
from kuaidan.logistics import repository
from kuaidan.logistics.adapters.base import Booking, BookingRequest
from kuaidan.logistics.domain import (
    BookingRefused,
    BookingState,
    CarrierError,
    NoCarrierAvailable,
    Place,
    Recipient,
    ShipmentInfo,
    ShipmentStatus,
)
from kuaidan.logistics.domain.carriers import check_weight
from kuaidan.logistics.domain.geo import zone_between
from kuaidan.logistics.domain.selection import CarrierQuote
from kuaidan.logistics.domain.tracking import RANK, is_terminal
from kuaidan.logistics.events import (
    ShipmentBooked,
    ShipmentBookingFailed,
    ShipmentBookingRequested,
    ShipmentInterceptionRequested,
    ShipmentInterceptionResult,
)
from kuaidan.logistics.models import Shipment
from kuaidan.logistics.service._common import (
    config_of,
    decrypt_recipient,
    encrypt_recipient,
    info_of,
    outside_call_ahead,
    profile_of,
    push_salt,
    require_shipment,
)
from kuaidan.logistics.service.carriers import quote_carriers
from kuaidan.logistics.service.eta import refresh_eta
from kuaidan.logistics.service.tracking import adopt_orphans, publish_status

log = logging.getLogger(__name__)


def _check_recipient(recipient: Recipient) -> Recipient:
    name, phone, address = (
        " ".join(v.split()) for v in (recipient.name, recipient.phone, recipient.address)
    )
    if not (1 <= len(name) <= 50 and 5 <= len(phone) <= 20 and 4 <= len(address) <= 200):
        raise InvalidInput("a recipient needs a name, a phone number and an address")
    return Recipient(name, phone, address)


def _new_reference(uow: UnitOfWork) -> str:
    return f"SP{uow.now():%Y%m%d}{secrets.token_hex(5).upper()}"


def _new_row(
    uow: UnitOfWork,
    *,
    carrier_id: int,
    carrier_code: str,
    merchant_id: int,
    order: tuple[int | None, str | None, int | None],
    lane: tuple[Place, Place],
    weight_g: int,
    price_fen: int,
    promise_days: int,
    recipient_enc: str,
) -> Shipment:
    (order_id, order_number, buyer_id), (origin, destination) = order, lane
    return Shipment(
        reference=_new_reference(uow),
        order_id=order_id,
        order_number=order_number,
        merchant_id=merchant_id,
        buyer_id=buyer_id,
        carrier_id=carrier_id,
        carrier_code=carrier_code,
        booking=BookingState.PENDING,
        recipient_enc=recipient_enc,
        origin_province=origin.province,
        origin_city=origin.city,
        dest_province=destination.province,
        dest_city=destination.city,
        zone=zone_between(origin, destination).value,
        weight_g=weight_g,
        price_fen=price_fen,
        promise_days=promise_days,
        status=ShipmentStatus.CREATED.value,
        progress=ShipmentStatus.CREATED.value,
        created_at=uow.now(),
        version=1,
    )


async def _choose(
    uow: UnitOfWork, origin: Place, destination: Place, weight_g: int, code: str | None
) -> CarrierQuote:
    quotes = await quote_carriers(
        uow=uow, origin=origin, destination=destination, weight_g=weight_g
    )
    chosen = quotes if code is None else [q for q in quotes if q.code == code]
    if not chosen:
        raise NoCarrierAvailable(
            "no carrier under contract takes this parcel",
            details={"carrier": code or "", "destination": destination.key},
        )
    return chosen[0]


async def request_shipment(
    *,
    uow: UnitOfWork,
    merchant_id: int,
    origin: Place,
    destination: Place,
    weight_g: int,
    recipient: Recipient,
    order_id: int | None = None,
    order_number: str | None = None,
    buyer_id: int | None = None,
    carrier_code: str | None = None,
) -> ShipmentInfo:
    """Record a shipment with the best carrier (or ``carrier_code``) and ask for its booking.

    Runs in the caller's transaction and calls nobody; ``shipment.booked`` follows once the
    carrier has given a tracking number. One live shipment per order: asking again for the
    same order returns it.
    """
    check_weight(weight_g)
    recipient = _check_recipient(recipient)
    async with uow.atomic():
        if order_id is not None:
            for existing in await repository.shipments_for_order(uow.session, order_id=order_id):
                if existing.booking != BookingState.FAILED and existing.status != "cancelled":
                    return info_of(existing, existing.carrier_code)
        quote = await _choose(uow, origin, destination, weight_g, carrier_code)
        carrier = await repository.get_carrier(uow.session, code=quote.code)
        assert carrier is not None
        row = _new_row(
            uow, carrier_id=carrier.id, carrier_code=carrier.code, merchant_id=merchant_id,
            order=(order_id, order_number, buyer_id), lane=(origin, destination),
            weight_g=weight_g, price_fen=quote.price_fen, promise_days=quote.promise_days,
            recipient_enc=encrypt_recipient(uow, recipient),
        )  # fmt: skip
        await repository.add(uow.session, row)
        await publish(uow, ShipmentBookingRequested(row.id, row.reference), key=row.reference)
    return info_of(row, carrier.name)


async def track_shipment(
    *,
    uow: UnitOfWork,
    merchant_id: int,
    carrier_code: str,
    tracking_number: str,
    origin: Place,
    destination: Place,
    weight_g: int,
    order_id: int | None = None,
    order_number: str | None = None,
    buyer_id: int | None = None,
) -> ShipmentInfo:
    """Track a parcel the merchant booked with the carrier itself (a tracking number typed
    in). Runs in the caller's transaction; the same number again returns the same shipment."""
    check_weight(weight_g)
    number = tracking_number.strip().upper()
    if not 6 <= len(number) <= 40 or not number.replace("-", "").isalnum():
        raise InvalidInput("a tracking number is 6 to 40 letters, digits or '-'")
    async with uow.atomic():
        known = await repository.shipment_by_tracking(
            uow.session, carrier_code=carrier_code, tracking_number=number
        )
        if known is not None:
            return info_of(known, known.carrier_code)
        carrier = await repository.get_carrier(uow.session, code=carrier_code)
        if carrier is None:
            raise NoCarrierAvailable("no such carrier", details={"carrier": carrier_code})
        zone = zone_between(origin, destination)
        profile = profile_of(carrier)
        row = _new_row(
            uow, carrier_id=carrier.id, carrier_code=carrier_code, merchant_id=merchant_id,
            order=(order_id, order_number, buyer_id), lane=(origin, destination),
            weight_g=weight_g, price_fen=profile.prices.price_fen(zone, weight_g),
            promise_days=profile.agreement.promise_for(zone),
            recipient_enc=encrypt_recipient(uow, Recipient("", "", "")),
        )  # fmt: skip
        row.tracking_number, row.booking, row.booked_at = number, BookingState.BOOKED, uow.now()
        await repository.add(uow.session, row)
        await refresh_eta(uow, row)
        await _publish_booked(uow, row, carrier.name)
        await adopt_orphans(uow, row)
    return info_of(row, carrier.name)


async def get_shipment(*, uow: UnitOfWork, reference: str, with_scans: bool = True) -> ShipmentInfo:
    row = await require_shipment(uow, reference)
    carrier = await repository.get_carrier(uow.session, carrier_id=row.carrier_id)
    scans = await repository.scans_for(uow.session, shipment_id=row.id) if with_scans else []
    return info_of(row, carrier.name if carrier else row.carrier_code, scans)


async def shipments_for_order(*, uow: UnitOfWork, order_id: int) -> list[ShipmentInfo]:
    rows = await repository.shipments_for_order(uow.session, order_id=order_id)
    return [info_of(row, row.carrier_code) for row in rows]


# --- booking: the handler's half --------------------------------------------------------------


async def perform_booking(*, uow: UnitOfWork, shipment_id: int) -> None:
    """Book at the carrier (no transaction open), then record what it said."""
    row = await repository.get_shipment(uow.session, shipment_id=shipment_id)
    if row is None or row.booking != BookingState.PENDING:
        return
    config = config_of(uow)
    request = BookingRequest(
        reference=row.reference,
        carrier_code=row.carrier_code,
        origin=Place(row.origin_province, row.origin_city),
        destination=Place(row.dest_province, row.dest_city),
        weight_g=row.weight_g,
        recipient=decrypt_recipient(uow, row.recipient_enc),
        callback_url=config.callback_url,
        salt=push_salt(uow),
    )
    await outside_call_ahead(uow)
    try:
        booking = await config.gateway.book(request)
    except BookingRefused as exc:
        await _record_refusal(uow, shipment_id, exc.message)
        return
    await _record_booking(uow, shipment_id, booking)


async def _record_booking(uow: UnitOfWork, shipment_id: int, booking: Booking) -> None:
    async with uow.atomic():
        row = await repository.get_shipment(uow.session, shipment_id=shipment_id, for_update=True)
        if row is None or row.booking != BookingState.PENDING:
            return
        carrier = await repository.get_carrier(uow.session, carrier_id=row.carrier_id)
        row.tracking_number, row.label = booking.tracking_number[:40], booking.label
        row.booking, row.booked_at, row.booking_error = BookingState.BOOKED, uow.now(), None
        row.version += 1
        await refresh_eta(uow, row)
        await _publish_booked(uow, row, carrier.name if carrier else row.carrier_code)
        await adopt_orphans(uow, row)


async def _publish_booked(uow: UnitOfWork, row: Shipment, carrier_name: str) -> None:
    assert row.tracking_number is not None and row.booked_at is not None
    event = ShipmentBooked(
        row.id, row.reference, row.order_id, row.order_number, row.merchant_id, row.buyer_id,
        row.carrier_code, carrier_name, row.tracking_number, row.booked_at,
    )  # fmt: skip
    await publish(uow, event, key=row.reference)


async def _record_refusal(uow: UnitOfWork, shipment_id: int, error: str) -> None:
    async with uow.atomic():
        row = await repository.get_shipment(uow.session, shipment_id=shipment_id, for_update=True)
        if row is None or row.booking != BookingState.PENDING:
            return
        row.booking, row.booking_error = BookingState.FAILED, error[:2000]
        event = ShipmentBookingFailed(
            row.id, row.reference, row.order_id, row.merchant_id, row.carrier_code, error
        )
        await publish(uow, event, key=row.reference)
    log.warning("carrier refused shipment %s: %s", shipment_id, error)


# --- cancel and intercept ---------------------------------------------------------------------


async def cancel_shipment(*, uow: UnitOfWork, reference: str) -> ShipmentInfo:
    """Cancel a booked parcel the carrier has not picked up. Calls the carrier: never inside
    the caller's transaction."""
    row = await require_shipment(uow, reference)
    if row.status != ShipmentStatus.CREATED or row.tracking_number is None:
        raise Conflict("only a booked parcel that is not picked up can be cancelled")
    await outside_call_ahead(uow)
    result = await config_of(uow).gateway.cancel(
        carrier_code=row.carrier_code, tracking_number=row.tracking_number
    )
    if not result.succeeded:
        raise Conflict(f"the carrier refused to cancel: {result.message}")
    async with uow.atomic():
        row = await require_shipment(uow, reference, lock=True)
        if row.status == ShipmentStatus.CREATED:
            row.status = row.progress = ShipmentStatus.CANCELLED.value
            row.status_at = row.finished_at = uow.now()
            row.eta_earliest = row.eta_latest = None
            await publish_status(uow, row, previous=ShipmentStatus.CREATED)
    return await get_shipment(uow=uow, reference=reference)


async def request_interception(*, uow: UnitOfWork, reference: str, reason: str) -> ShipmentInfo:
    """Ask the carrier to stop the parcel and send it back; a handler makes the call and
    ``shipment.interception_result`` tells the outcome. Runs in the caller's transaction."""
    async with uow.atomic():
        row = await require_shipment(uow, reference, lock=True)
        status = ShipmentStatus(row.status)
        if row.tracking_number is None or is_terminal(status):
            raise Conflict("this shipment cannot be intercepted", details={"status": status})
        if RANK[ShipmentStatus(row.progress)] >= RANK[ShipmentStatus.REFUSED]:
            raise Conflict("this parcel is already on its way back")
        row.intercepted_at = uow.now()  # its return is then no exception (domain.cases)
        event = ShipmentInterceptionRequested(row.id, row.reference, " ".join(reason.split()))
        await publish(uow, event, key=row.reference)
    return info_of(row, row.carrier_code)


async def perform_interception(*, uow: UnitOfWork, shipment_id: int, reason: str) -> None:
    row = await repository.get_shipment(uow.session, shipment_id=shipment_id)
    if row is None or row.tracking_number is None:
        return
    await outside_call_ahead(uow)
    try:
        result = await config_of(uow).gateway.intercept(
            carrier_code=row.carrier_code, tracking_number=row.tracking_number, reason=reason
        )
    except CarrierError:
        log.warning("interception of %s: the carrier is unreachable", row.reference)
        raise
    async with uow.atomic():
        if not result.succeeded:  # the parcel goes on: a return from now on is its own trouble
            await repository.clear_interception(uow.session, shipment_id=row.id)
        event = ShipmentInterceptionResult(
            row.id, row.reference, row.order_id, row.merchant_id, result.succeeded, result.message
        )
        await publish(uow, event, key=row.reference)


# --- reship: a new parcel for the same order ---------------------------------------------------

# A shipment that will not reach the buyer (or never left): the order may have a new one.
GIVEN_UP = frozenset(
    {
        ShipmentStatus.LOST,
        ShipmentStatus.DAMAGED,
        ShipmentStatus.PROBLEM,
        ShipmentStatus.REFUSED,
        ShipmentStatus.RETURNING,
        ShipmentStatus.RETURNED,
        ShipmentStatus.CANCELLED,
    }
)


async def reship_shipment(
    *,
    uow: UnitOfWork,
    reference: str,
    carrier_code: str | None = None,
    stalled: bool = False,
    destination: Place | None = None,
    recipient: Recipient | None = None,
) -> ShipmentInfo:
    """A new shipment for the same order, lane, weight and recipient as ``reference``, with
    the best carrier (or ``carrier_code``); its booking follows like ``request_shipment``'s.

    Allowed when the old one's booking failed, or the parcel is lost, damaged, refused, on its
    way back or cancelled; ``stalled`` (an exception case resolved by reshipping) also allows
    it for a parcel that stopped moving. ``destination`` and ``recipient`` send the new parcel
    elsewhere (an intercepted parcel redirected). Runs in the caller's transaction and calls
    nobody.
    """
    recipient = _check_recipient(recipient) if recipient is not None else None
    async with uow.atomic():
        old = await require_shipment(uow, reference, lock=True)
        status = ShipmentStatus(old.status)
        failed = old.booking == BookingState.FAILED
        if status == ShipmentStatus.DELIVERED or old.booking == BookingState.PENDING:
            raise Conflict(
                "this shipment is delivered or still being booked: nothing to reship",
                details={"status": status.value, "booking": old.booking},
            )
        if not (failed or status in GIVEN_UP or stalled):
            raise Conflict("this parcel is still on its way", details={"status": status.value})
        origin = Place(old.origin_province, old.origin_city)
        destination = destination or Place(old.dest_province, old.dest_city)
        quote = await _choose(uow, origin, destination, old.weight_g, carrier_code)
        carrier = await repository.get_carrier(uow.session, code=quote.code)
        assert carrier is not None
        row = _new_row(
            uow, carrier_id=carrier.id, carrier_code=carrier.code, merchant_id=old.merchant_id,
            order=(old.order_id, old.order_number, old.buyer_id), lane=(origin, destination),
            weight_g=old.weight_g, price_fen=quote.price_fen, promise_days=quote.promise_days,
            recipient_enc=(
                old.recipient_enc if recipient is None else encrypt_recipient(uow, recipient)
            ),
        )  # fmt: skip
        await repository.add(uow.session, row)
        await publish(uow, ShipmentBookingRequested(row.id, row.reference), key=row.reference)
    return info_of(row, carrier.name)


async def tracking_mark(*, uow: UnitOfWork, references: list[str]) -> tuple[object, ...]:
    """A value that changes whenever anything a tracking page shows of these shipments does
    (status, scans, ETA, booking): pages compare it to know when to redraw."""
    marks: list[object] = []
    for reference in references:
        row = await repository.get_shipment(uow.session, reference=reference)
        if row is not None:
            marks.append(
                (row.reference, row.version, row.booking, row.tracking_number,
                 row.last_scan_at, row.eta_earliest, row.eta_latest, row.status)
            )  # fmt: skip
    return tuple(marks)


async def delivery_rating(*, uow: UnitOfWork, reference: str) -> int | None:
    """The stars the buyer gave this delivery, if rated."""
    row = await require_shipment(uow, reference)
    rating = await repository.get_rating(uow.session, shipment_id=row.id)
    return rating.stars if rating is not None else None
