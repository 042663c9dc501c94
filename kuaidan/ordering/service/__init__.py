"""Ordering use cases, one module per concern: carts, placement, checkouts, orders, shipping
and tracking, and the platform's own changes (lifecycle). Keyword-only functions that own
their transaction and return the read models of ``ordering.readmodels``. After-sales, changes
before shipping and interception are sub-areas of their own (``ordering.aftersales``,
``ordering.changes``, ``ordering.interception``); they reach an order through ``order_rows``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.ordering.domain import OrderingPolicy
from kuaidan.ordering.service._common import actor_of
from kuaidan.ordering.service.carts import (
    add_cart_item,
    get_cart,
    merge_guest_cart,
    new_guest_key,
    remove_cart_item,
    set_cart_item,
)
from kuaidan.ordering.service.checkouts import get_checkout, refresh_checkout_payment
from kuaidan.ordering.service.lifecycle import (
    auto_complete_orders,
    expire_overdue_orders,
    prune,
    record_payment,
    record_refund,
)
from kuaidan.ordering.service.orders import (
    cancel_order,
    confirm_receipt,
    get_order,
    list_merchant_orders,
    list_orders,
    mark_delivered,
    require_merchant,
)
from kuaidan.ordering.service.pages_support import (
    cart_count,
    checkout_payment_status,
    hold_awaits_code,
)
from kuaidan.ordering.service.placement import (
    checkout_cart,
    known_sold_out,
    place_checkout,
    placed_keys,
)
from kuaidan.ordering.service.shipping import (
    DEFAULT_WEIGHT_G,
    auto_book,
    get_shipping_settings,
    propose_carriers,
    set_shipping_settings,
    ship_order,
)
from kuaidan.ordering.service.tracking import (
    deliver_from_carrier,
    get_tracking,
    note_booked,
    note_booking_failed,
    note_exception,
    rate_delivery,
    resolve_from_case,
    tell_buyer_of_exception,
    tracking_mark,
)

if TYPE_CHECKING:
    from kuaidan.config import Settings


def policy_from_settings(settings: Settings) -> OrderingPolicy:
    return OrderingPolicy(
        payment_ttl=timedelta(seconds=settings.order_payment_ttl_s),
        auto_complete_after=timedelta(days=settings.order_auto_complete_days),
        currency=settings.currency,
    )


__all__ = [
    "DEFAULT_WEIGHT_G",
    "actor_of",
    "add_cart_item",
    "auto_book",
    "auto_complete_orders",
    "cancel_order",
    "cart_count",
    "checkout_cart",
    "checkout_payment_status",
    "confirm_receipt",
    "deliver_from_carrier",
    "expire_overdue_orders",
    "get_cart",
    "get_checkout",
    "get_order",
    "get_shipping_settings",
    "get_tracking",
    "hold_awaits_code",
    "known_sold_out",
    "list_merchant_orders",
    "list_orders",
    "mark_delivered",
    "merge_guest_cart",
    "new_guest_key",
    "note_booked",
    "note_booking_failed",
    "note_exception",
    "place_checkout",
    "placed_keys",
    "policy_from_settings",
    "propose_carriers",
    "prune",
    "rate_delivery",
    "record_payment",
    "record_refund",
    "refresh_checkout_payment",
    "remove_cart_item",
    "require_merchant",
    "resolve_from_case",
    "set_cart_item",
    "set_shipping_settings",
    "ship_order",
    "tell_buyer_of_exception",
    "tracking_mark",
]
