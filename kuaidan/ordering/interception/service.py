"""Interception after shipping: the buyer (or an agent for them) asks to redirect or cancel a
shipped order; the carrier is asked to stop the parcel (by logistics' handler, after commit);
its answer, the parcel's return, and then a new parcel to the new address or the order's
refund are each a step of the case and an entry on the order's timeline.

Every reaction to logistics' events moves the case one step with a conditional update, so a
redelivered event changes nothing twice. The carrier's fee is recorded on the case; when the
buyer bears it, a cancelled order's refund is its total less the fee, and a redirect's fee is
recorded for settlement with the merchant (it is not charged to the buyer's payment).
"""

from __future__ import annotations

from dataclasses import dataclass

from kuaidan.accounts.domain import UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Forbidden, InvalidInput
from kuaidan.core.notify import Message
from kuaidan.core.outbox import publish
from kuaidan.core.text import one_line
from kuaidan.logistics import service as logistics
from kuaidan.logistics.domain import Place, Recipient, place_of
from kuaidan.logistics.domain.tracking import is_terminal
from kuaidan.ordering.domain import (
    Actor,
    OrderAction,
    OrderStatus,
    TimelineAction,
    clean_reason,
    refund_request_no,
)
from kuaidan.ordering.interception import repository
from kuaidan.ordering.interception.domain import (
    OPEN,
    STEP_WORDS,
    Bearer,
    InterceptionCause,
    InterceptionKind,
    InterceptionNotAllowed,
    InterceptionStatus,
    InterceptionStep,
    InterceptionView,
    bearer_of,
    check_may_intercept,
    refund_fen,
    step,
)
from kuaidan.ordering.interception.events import OrderInterceptionChanged
from kuaidan.ordering.interception.models import OrderInterception
from kuaidan.ordering.service import order_rows
from kuaidan.ordering.service.live import announce
from kuaidan.ordering.service.order_rows import AddressSnapshot, Order
from kuaidan.ordering.service.shipping import replace_shipment
from kuaidan.ordering.service.tracking import notifier_of
from kuaidan.payments import service as payments
from kuaidan.security import service as audit

REFUND_CAUSE = "intercept"
ASKERS = frozenset({Actor.BUYER, Actor.AGENT, Actor.ADMIN})
_FIELDS = ("recipient", "phone", "district", "line")
CONTEXT = "order_interceptions"  # encryption context of a redirect's new address


@dataclass(frozen=True, slots=True)
class NewAddress:
    """Where a redirected parcel goes (free-text province and city, as on an address)."""

    recipient: str
    phone: str
    province: str
    city: str
    line: str
    district: str = ""
    postcode: str | None = None


def _checked(address: NewAddress) -> tuple[Place, AddressSnapshot]:
    """The address cleaned, or InvalidInput (422) naming the field."""
    text = {
        name: one_line(getattr(address, name), field=f"address.{name}")
        for name in ("recipient", "phone", "district", "line")
    }
    limits = {"recipient": (1, 50), "phone": (5, 20), "district": (0, 50), "line": (4, 200)}
    for name, (low, high) in limits.items():
        if not low <= len(text[name]) <= high:
            raise InvalidInput(
                f"the new address needs a valid {name}", details={"field": f"address.{name}"}
            )
    if sum(ch.isdigit() for ch in text["phone"]) < 5:
        raise InvalidInput("the new address needs a phone number", details={"field": "phone"})
    place = place_of(address.province, address.city)  # InvalidInput for an unknown place
    postcode = (address.postcode or "").strip() or None
    if postcode is not None and not (postcode.isdigit() and len(postcode) == 6):
        raise InvalidInput("a postcode is 6 digits", details={"field": "address.postcode"})
    snapshot = AddressSnapshot(
        recipient=text["recipient"], phone=text["phone"], province=place.province,
        city=place.city, district=text["district"], line=text["line"], postcode=postcode,
    )  # fmt: skip
    return place, snapshot


# --- asking ---------------------------------------------------------------------------------


async def request_interception(
    *,
    uow: UnitOfWork,
    number: str,
    by: UserInfo,
    kind: InterceptionKind,
    reason: str,
    address: NewAddress | None = None,
    cause: InterceptionCause | None = None,
) -> InterceptionView:
    """Open a case and ask logistics to intercept the order's parcel (one transaction).

    Its buyer, or an agent/admin on the buyer's behalf (audited); only an agent or admin may
    say the merchant is at fault (the merchant then bears the fee). 409 when the parcel can no
    longer be stopped or a case or refund is under way; 422 for a bad address."""
    reason = clean_reason(reason)
    if (kind is InterceptionKind.REDIRECT) != (address is not None):
        raise InvalidInput(
            "a redirect needs the new address; a cancel takes none", details={"field": "address"}
        )
    target = _checked(address) if address is not None else None
    async with uow.atomic():
        row = await order_rows.visible_order(uow, number, by)
        actor = order_rows.actor_of(by)
        if actor not in ASKERS:
            raise Forbidden("the buyer or an agent asks for an interception")
        if actor is Actor.BUYER and cause not in (None, InterceptionCause.BUYER_CHANGED_MIND):
            raise Forbidden("an agent decides whether the shop is at fault")
        cause = cause or InterceptionCause.BUYER_CHANGED_MIND
        case = await _open_case(uow, row, kind, cause, target, actor, by.id, reason)
        await logistics.request_interception(
            uow=uow, reference=case.old_shipment, reason=f"{kind.value}: {reason}"
        )
        if actor is not Actor.BUYER:
            await audit.record(
                uow=uow, actor_id=by.id, action="order.intercept", subject=f"order:{number}",
                details={"case": case.id, "kind": kind.value, "cause": cause.value},
            )  # fmt: skip
        await _tell(uow, row, case, actor=actor, actor_id=by.id)
        return _view(uow, row, case)


async def _open_case(
    uow: UnitOfWork,
    row: Order,
    kind: InterceptionKind,
    cause: InterceptionCause,
    target: tuple[Place, AddressSnapshot] | None,
    actor: Actor,
    actor_id: int,
    reason: str,
) -> OrderInterception:
    cases = await repository.interceptions_of(uow.session, row.id)
    shipment = None
    if row.shipment_reference is not None:
        shipment = await logistics.get_shipment(
            uow=uow, reference=row.shipment_reference, with_scans=False
        )
    check_may_intercept(
        order_status=row.status,
        shipment_status=shipment.status.value if shipment else None,
        parcel_terminal=shipment is not None and is_terminal(shipment.status),
        has_tracking=shipment is not None and shipment.tracking_number is not None,
        open_case=any(InterceptionStatus(c.status) in OPEN for c in cases),
        refund_in_progress=row.refund_request_no is not None,
    )
    assert shipment is not None
    carrier = await logistics.get_carrier(uow=uow, code=shipment.carrier_code)
    # The order's version guards against a double submission racing this one.
    if not await order_rows.change_order(
        uow, order_id=row.id, status=row.status, version=row.version, values={}
    ):
        raise InterceptionNotAllowed("the order changed meanwhile; reload it and try again")
    now = uow.now()
    case = OrderInterception(
        order_id=row.id, kind=kind.value, status=InterceptionStatus.REQUESTED.value,
        cause=cause.value, bearer=bearer_of(cause).value,
        fee_fen=carrier.agreement.intercept_fee_for(shipment.zone), refund_fen=None,
        currency=row.currency, old_shipment=shipment.reference, new_shipment=None,
        requested_by=actor.value, requested_by_id=actor_id, reason=reason,
        carrier_message=None, requested_at=now, updated_at=now, finished_at=None,
    )  # fmt: skip
    if target is not None:
        _place, snapshot = target
        for name in _FIELDS:
            value = uow.cipher.encrypt(getattr(snapshot, name), context=f"{CONTEXT}.{name}")
            setattr(case, f"{name}_enc", value)
        case.province, case.city = snapshot.province, snapshot.city
        case.postcode = snapshot.postcode
    await repository.add(uow.session, case)
    return case


# --- reading --------------------------------------------------------------------------------


def _address(uow: UnitOfWork, case: OrderInterception) -> AddressSnapshot | None:
    if case.recipient_enc is None or case.province is None or case.city is None:
        return None
    values = {
        name: uow.cipher.decrypt(getattr(case, f"{name}_enc") or "", context=f"{CONTEXT}.{name}")
        for name in _FIELDS
    }
    return AddressSnapshot(province=case.province, city=case.city, postcode=case.postcode, **values)


def _view(uow: UnitOfWork, row: Order, case: OrderInterception) -> InterceptionView:
    address = _address(uow, case)
    return InterceptionView(
        case_id=case.id, order_number=order_rows.number_of(uow.cipher, row),
        kind=InterceptionKind(case.kind), status=InterceptionStatus(case.status),
        cause=InterceptionCause(case.cause), bearer=Bearer(case.bearer), fee_fen=case.fee_fen,
        refund_fen=case.refund_fen, currency=case.currency, old_shipment=case.old_shipment,
        new_shipment=case.new_shipment,
        new_address=None if address is None else f"{address.recipient} {address.one_line()}",
        requested_by=case.requested_by, reason=case.reason, carrier_message=case.carrier_message,
        requested_at=case.requested_at, updated_at=case.updated_at,
    )  # fmt: skip


async def list_interceptions(
    *, uow: UnitOfWork, number: str, viewer: UserInfo
) -> list[InterceptionView]:
    """The order's interception cases, newest first, for whoever may see the order."""
    row = await order_rows.visible_order(uow, number, viewer)
    cases = await repository.interceptions_of(uow.session, row.id)
    return [_view(uow, row, case) for case in reversed(cases)]


# --- steps ----------------------------------------------------------------------------------


async def _tell(
    uow: UnitOfWork,
    row: Order,
    case: OrderInterception,
    *,
    actor: Actor = Actor.SYSTEM,
    actor_id: int | None = None,
) -> None:
    """The case's current step on the order's timeline, in the outbox and on open pages."""
    status = InterceptionStatus(case.status)
    fee = f"fee {case.fee_fen} fen, borne by the {case.bearer}"
    order_rows.add_timeline(
        uow, row, action=f"interception_{status.value}", actor=actor, actor_id=actor_id,
        note=f"#{case.id} {case.kind} ({fee}): {STEP_WORDS[status]}",
    )  # fmt: skip
    event = OrderInterceptionChanged(
        case_id=case.id, order_id=row.id, number=order_rows.number_of(uow.cipher, row),
        buyer_id=row.buyer_id, merchant_id=row.merchant_id, kind=case.kind, status=status.value,
        fee_fen=case.fee_fen, bearer=case.bearer, shipment_reference=case.old_shipment,
        at=uow.now(),
    )  # fmt: skip
    await publish(uow, event, key=f"order:{row.id}")
    announce(uow, row.id, f"interception_{status.value}")


async def _advance(
    uow: UnitOfWork, row: Order, case: OrderInterception, what: InterceptionStep, **values: object
) -> bool:
    """Move the case one step (once: a step already taken is skipped)."""
    before = InterceptionStatus(case.status)
    after = step(before, what)
    if after is None:
        return False
    now = uow.now()
    finished = {"finished_at": now} if after not in OPEN else {}
    changed = await repository.change_interception(
        uow.session,
        case_id=case.id,
        status=before.value,
        values={"status": after.value, "updated_at": now, **finished, **values},
    )
    if not changed:
        return False
    case.status = after.value
    for name, value in {**finished, **values}.items():
        setattr(case, name, value)
    await _tell(uow, row, case)
    return True


async def _case_of(
    uow: UnitOfWork, reference: str
) -> tuple[Order, OrderInterception] | tuple[None, None]:
    case = await repository.interception_for_shipment(uow.session, reference=reference)
    row = None if case is None else await order_rows.get_order(uow, case.order_id)
    return (row, case) if row is not None and case is not None else (None, None)


async def note_interception_sent(*, uow: UnitOfWork, reference: str) -> bool:
    """Logistics took the request to the carrier: the case is intercepting."""
    async with uow.atomic():
        row, case = await _case_of(uow, reference)
        if row is None or case is None:
            return False
        return await _advance(uow, row, case, InterceptionStep.SENT)


async def record_interception_result(
    *, uow: UnitOfWork, reference: str, succeeded: bool, message: str
) -> bool:
    """The carrier's answer: succeeded (the parcel turns back) or failed (it goes on)."""
    async with uow.atomic():
        row, case = await _case_of(uow, reference)
        if row is None or case is None:
            return False
        what = InterceptionStep.SUCCEEDED if succeeded else InterceptionStep.FAILED
        return await _advance(uow, row, case, what, carrier_message=message[:200])


async def tell_buyer_of_failure(*, uow: UnitOfWork, reference: str, succeeded: bool) -> bool:
    """Message the buyer that the parcel could not be stopped (no transaction open; once per
    case through the notifier's dedupe key)."""
    if succeeded:
        return False
    row, case = await _case_of(uow, reference)
    if row is None or case is None:
        return False
    number = order_rows.number_of(uow.cipher, row)
    await uow.end_reads()
    message = Message(
        user_id=row.buyer_id,
        channel="sms",
        subject=f"拦截失败 Your parcel for order {number} could not be stopped",
        body=(
            f"【快单】您的订单 {number} 的包裹未能拦截，将按原地址派送。"
            f" kuaidan: the carrier could not stop the parcel of order {number}; it will be "
            "delivered to the original address. You can return it after it arrives."
        ),
        dedupe_key=f"ordering.interception_failed:{case.id}",
    )
    await notifier_of(uow).send(uow, message)
    return True


async def record_parcel_returned(*, uow: UnitOfWork, reference: str) -> bool:
    """The intercepted parcel is back with the merchant: a new parcel to the new address
    (redirect), or the order's refund less the buyer's fee (cancel)."""
    async with uow.atomic():
        row, case = await _case_of(uow, reference)
        if row is None or case is None:
            return False
        if not await _advance(uow, row, case, InterceptionStep.RETURNED):
            return False
        if case.kind == InterceptionKind.REDIRECT.value:
            await _reship(uow, row, case)
        else:
            await _refund(uow, row, case)
        return True


async def _reship(uow: UnitOfWork, row: Order, case: OrderInterception) -> None:
    address = _address(uow, case)
    assert address is not None
    place = Place(address.province, address.city)
    recipient = Recipient(address.recipient, address.phone, address.one_line())
    info = await logistics.reship_shipment(
        uow=uow, reference=case.old_shipment, destination=place, recipient=recipient
    )
    fields: dict[str, str | None] = {
        f"{name}_enc": uow.cipher.encrypt(getattr(address, name), context=f"orders.{name}")
        for name in _FIELDS
    }
    fields.update(province=address.province, city=address.city, postcode=address.postcode)
    await order_rows.set_order_fields(uow, row.id, fields)
    row = await order_rows.get_order(uow, row.id) or row
    await replace_shipment(
        uow, row, info, action=TimelineAction.RESHIPPED, actor=Actor.SYSTEM, by=None
    )
    await _advance(uow, row, case, InterceptionStep.RESHIPPED, new_shipment=info.reference)


async def _refund(uow: UnitOfWork, row: Order, case: OrderInterception) -> None:
    amount = refund_fen(total_fen=row.total_fen, fee_fen=case.fee_fen, bearer=Bearer(case.bearer))
    request_no = refund_request_no(row.id, REFUND_CAUSE)
    if amount > 0 and row.paid_at is not None:
        await payments.request_refund(
            uow=uow, reference=order_rows.order_reference(uow.cipher, row), amount_fen=amount,
            reason=f"interception #{case.id}", request_no=request_no,
        )  # fmt: skip
        await order_rows.set_order_fields(uow, row.id, {"refund_request_no": request_no})
        order_rows.add_timeline(
            uow, row, action=TimelineAction.REFUND_REQUESTED.value, actor=Actor.SYSTEM,
            actor_id=None, note=f"{amount} fen ({request_no}): interception #{case.id}",
        )  # fmt: skip
    if OrderStatus(row.status) is OrderStatus.SHIPPED:
        # The parcel is back with the merchant and the money on its way back: the order ends.
        await order_rows.change_status(
            uow, row, OrderAction.RETURN, actor=Actor.SYSTEM, actor_id=None,
            note=f"interception #{case.id}",
            values={"cancelled_at": uow.now(), "cancel_reason": "intercepted and returned"},
        )  # fmt: skip
    await _advance(uow, row, case, InterceptionStep.REFUNDED, refund_fen=amount)


__all__ = [
    "NewAddress",
    "list_interceptions",
    "note_interception_sent",
    "record_interception_result",
    "record_parcel_returned",
    "request_interception",
    "tell_buyer_of_failure",
]
