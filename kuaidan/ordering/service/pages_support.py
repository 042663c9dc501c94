"""Small reads the HTML pages need beside the main use cases: the header's cart count,
whether a checkout's payment went through at the provider before its orders caught up, and
whether a held payment waits for the buyer's code or for an analyst."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import NotFound
from kuaidan.ordering import repository
from kuaidan.ordering.domain import CartOwner, hash_guest_key
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PaymentStatus
from kuaidan.risk import service as risk
from kuaidan.risk.domain import Action, AttemptStatus


async def cart_count(*, uow: UnitOfWork, owner: CartOwner) -> int:
    """Units in the owner's cart, from the cart's own rows (no prices or stock looked up)."""
    if owner.buyer_id is not None:
        cart = await repository.find_cart(uow.session, buyer_id=owner.buyer_id)
    else:
        assert owner.guest_key is not None
        digest = hash_guest_key(owner.guest_key)
        cart = await repository.find_cart(uow.session, guest_key_hash=digest)
    if cart is None:
        return 0
    return sum(item.quantity for item in await repository.cart_items(uow.session, cart.id))


async def checkout_payment_status(*, uow: UnitOfWork, reference: str) -> PaymentStatus | None:
    """The status of a checkout's payment as payments recorded it (None: no payment yet).

    A succeeded payment whose orders are still awaiting payment is being confirmed: the
    orders turn paid as soon as the payment's event is handled.
    """
    info = await payments.get_payment(uow=uow, reference=reference)
    return None if info is None else info.status


async def hold_awaits_code(*, uow: UnitOfWork, reference: str) -> bool:
    """Whether the held payment ``reference`` waits for the buyer's one-time code (True) or
    for a risk analyst's review (False: no code was sent, so none can be asked for)."""
    try:
        hold = await risk.get_hold(uow=uow, reference=reference)
    except NotFound:
        return False
    return hold.status is AttemptStatus.HELD and hold.action is Action.VERIFY
