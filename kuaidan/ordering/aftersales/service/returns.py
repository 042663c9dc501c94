"""The goods back and the money or the replacement out: the parcel back (a pickup or the
buyer's own), its arrival at the shop, the replacement's delivery, the refund's arrival."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kuaidan.accounts.domain import UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, Forbidden, InvalidInput
from kuaidan.inventory import service as inventory
from kuaidan.logistics import service as logistics
from kuaidan.logistics.domain import Recipient, ShipmentInfo, place_of
from kuaidan.ordering.aftersales import repository
from kuaidan.ordering.aftersales.domain import Actor as CaseActor
from kuaidan.ordering.aftersales.domain import (
    CaseKind,
    CaseStatus,
    CaseStep,
    CaseView,
    next_status,
)
from kuaidan.ordering.aftersales.models import AfterSalesCase
from kuaidan.ordering.aftersales.service._case import (
    _advance,
    _locked,
    _refund,
    _return_address,
    _view,
    case_actor,
    exchange_holder,
)
from kuaidan.ordering.domain import Actor as OrderActor
from kuaidan.ordering.service import order_rows
from kuaidan.ordering.service.live import announce
from kuaidan.ordering.service.order_rows import Order
from kuaidan.ordering.service.shipping import DEFAULT_WEIGHT_G, ship_from

if TYPE_CHECKING:
    from kuaidan.merchants.domain import ReturnAddress


async def send_back(
    *,
    uow: UnitOfWork,
    number: str,
    case_id: int,
    by: UserInfo,
    carrier_code: str | None = None,
    tracking_number: str | None = None,
) -> CaseView:
    """The goods go back: the platform books a pickup from the delivery address to the shop's
    return address (the carrier chosen by score), or the buyer gives the tracking number of a
    parcel they sent. A trusted buyer's refund is asked for at once."""
    actor = case_actor(by)
    if (carrier_code is None) != (tracking_number is None):
        raise InvalidInput(
            "a parcel you sent needs both the carrier and the tracking number",
            details={"field": "tracking_number"},
        )
    async with uow.atomic():
        row, case = await _locked(uow, number, case_id, by)
        # Refused before anything is booked when the case is not waiting for the goods.
        next_status(CaseStatus(case.status), CaseStep.SEND_BACK, CaseKind(case.kind), actor=actor)
        address = _return_address(uow, case)
        assert address is not None
        info, booked_by = await _return_parcel(
            uow, row, address, carrier_code=carrier_code, tracking_number=tracking_number
        )
        note = f"{info.carrier_name} {info.tracking_number or ''}".strip()
        await _advance(
            uow, row, case, CaseStep.SEND_BACK, actor, by.id, note=note,
            values={
                "return_shipment": info.reference, "return_tracking": info.tracking_number,
                "return_shipping_fen": info.price_fen, "return_booked_by": booked_by,
                "due_at": None,
            },
        )  # fmt: skip
        if case.trusted:
            await _refund(uow, row, case)
        return await _view(uow, row, case)


async def _return_parcel(
    uow: UnitOfWork,
    row: Order,
    address: ReturnAddress,
    *,
    carrier_code: str | None,
    tracking_number: str | None,
) -> tuple[ShipmentInfo, str]:
    """The parcel that takes the goods back and who booked it: a pickup the platform books
    (no tracking number given), or the buyer's own parcel, which no other order or case may
    already own."""
    origin, destination = (
        place_of(row.province, row.city),
        place_of(address.province, address.city),
    )
    if tracking_number is None:
        info = await logistics.request_shipment(
            uow=uow, merchant_id=row.merchant_id, origin=origin, destination=destination,
            weight_g=DEFAULT_WEIGHT_G,
            recipient=Recipient(address.recipient, address.phone, address.one_line()),
        )  # fmt: skip
        booked_by = "platform"
    else:
        assert carrier_code is not None
        info = await logistics.track_shipment(
            uow=uow, merchant_id=row.merchant_id, carrier_code=carrier_code,
            tracking_number=tracking_number, origin=origin, destination=destination,
            weight_g=DEFAULT_WEIGHT_G,
        )  # fmt: skip
        if info.order_id is not None or await repository.after_sales_by_shipment(
            uow.session, info.reference
        ):
            raise Conflict(
                "this tracking number belongs to another parcel",
                details={"field": "tracking_number"},
            )
        booked_by = "buyer"
    return info, booked_by


async def note_return_booked(*, uow: UnitOfWork, reference: str, tracking_number: str) -> bool:
    """The carrier booked the pickup: the case shows its tracking number."""
    async with uow.atomic():
        case = await repository.after_sales_by_shipment(uow.session, reference)
        if case is None or case.return_shipment != reference or case.return_tracking:
            return False
        await repository.change_after_sales(
            uow.session, case_id=case.id, status=case.status, version=case.version,
            values={"return_tracking": tracking_number, "updated_at": uow.now()},
        )  # fmt: skip
        announce(uow, case.order_id, "after_sales_tracking")
        return True


async def receive_return(*, uow: UnitOfWork, number: str, case_id: int, by: UserInfo) -> CaseView:
    """The shop says the goods are back (before the carrier's delivery scan reaches us)."""
    actor = case_actor(by)
    if actor is not CaseActor.MERCHANT:
        raise Forbidden("the shop confirms it received the goods")
    async with uow.atomic():
        row, case = await _locked(uow, number, case_id, by)
        await _received(uow, row, case, actor, by.id)
        return await _view(uow, row, case)


async def parcel_delivered(*, uow: UnitOfWork, reference: str) -> bool:
    """Logistics delivered a parcel: a return parcel at the shop, or a replacement at the
    buyer's. Parcels that are no case's are left alone; a repeated event changes nothing."""
    async with uow.atomic():
        case = await repository.after_sales_by_shipment(uow.session, reference)
        if case is None:
            return False
        row = await order_rows.lock_order(uow, case.order_id)
        fresh = await repository.get_after_sales(uow.session, case.id)
        if row is None or fresh is None:
            return False
        status = CaseStatus(fresh.status)
        if reference == fresh.return_shipment and status is CaseStatus.RETURNING:
            await _received(uow, row, fresh, CaseActor.SYSTEM, None)
            return True
        if reference == fresh.replacement_shipment and status is CaseStatus.EXCHANGE_SHIPPING:
            await _advance(
                uow, row, fresh, CaseStep.REPLACEMENT_DELIVERED, CaseActor.SYSTEM, None,
                note=reference,
            )  # fmt: skip
            return True
        return False


async def _received(
    uow: UnitOfWork, row: Order, case: AfterSalesCase, actor: CaseActor, actor_id: int | None
) -> None:
    after = await _advance(uow, row, case, CaseStep.RECEIVE, actor, actor_id)
    if after is CaseStatus.EXCHANGE_SHIPPING:
        await _ship_replacement(uow, row, case)
    elif case.refund_request_no is None:
        await _refund(uow, row, case)
    elif case.refunded_at is not None:  # a trusted buyer's refund already arrived
        await _advance(uow, row, case, CaseStep.REFUND_DONE, CaseActor.SYSTEM, None)


async def _ship_replacement(uow: UnitOfWork, row: Order, case: AfterSalesCase) -> None:
    """Book the replacement from the shop to the order's address; its stock is consumed."""
    address = order_rows.address_of(uow.cipher, row)
    info: ShipmentInfo = await logistics.request_shipment(
        uow=uow, merchant_id=row.merchant_id, origin=await ship_from(uow, row.merchant_id),
        destination=place_of(row.province, row.city), weight_g=DEFAULT_WEIGHT_G,
        recipient=Recipient(address.recipient, address.phone, address.one_line()),
        order_number=order_rows.number_of(uow.cipher, row), buyer_id=row.buyer_id,
    )  # fmt: skip
    await inventory.consume(uow=uow, holder=exchange_holder(case.id))
    await repository.change_after_sales(
        uow.session, case_id=case.id, status=case.status, version=case.version,
        values={"replacement_shipment": info.reference},
    )  # fmt: skip
    case.version += 1
    case.replacement_shipment = info.reference
    order_rows.add_timeline(
        uow, row, action="after_sales_replacement", actor=OrderActor.SYSTEM, actor_id=None,
        note=f"#{case.id} {info.carrier_name} {info.reference}",
    )  # fmt: skip


async def refund_arrived(*, uow: UnitOfWork, request_no: str) -> bool:
    """Payments says the refund succeeded: the case is refunded (a trusted buyer's early
    refund is noted and the case finishes when the goods arrive)."""
    async with uow.atomic():
        case = await repository.after_sales_by_refund(uow.session, request_no)
        if case is None or case.refunded_at is not None:
            return False
        row = await order_rows.lock_order(uow, case.order_id)
        fresh = await repository.get_after_sales(uow.session, case.id)
        if row is None or fresh is None:
            return False
        now = uow.now()
        if CaseStatus(fresh.status) is CaseStatus.REFUNDING:
            await _advance(
                uow, row, fresh, CaseStep.REFUND_DONE, CaseActor.SYSTEM, None,
                note=f"{fresh.refund_fen} fen", values={"refunded_at": now},
            )  # fmt: skip
        else:
            await repository.change_after_sales(
                uow.session, case_id=fresh.id, status=fresh.status, version=fresh.version,
                values={"refunded_at": now, "updated_at": now},
            )  # fmt: skip
            order_rows.add_timeline(
                uow, row, action="refunded", actor=OrderActor.SYSTEM, actor_id=None,
                note=f"{fresh.refund_fen} fen: after-sales #{fresh.id} (before the goods arrived)",
            )  # fmt: skip
            announce(uow, row.id, "after_sales_refunded")
        return True
