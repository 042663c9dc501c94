"""Ordering use cases, one module per concern: carts, placement, checkouts, orders, and the
platform's own changes (lifecycle). Keyword-only functions that own their transaction and
return the read models of ``ordering.readmodels``."""

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
    ship_order,
)
from kuaidan.ordering.service.pages_support import cart_count, checkout_payment_status
from kuaidan.ordering.service.placement import checkout_cart, place_checkout

if TYPE_CHECKING:
    from kuaidan.config import Settings


def policy_from_settings(settings: Settings) -> OrderingPolicy:
    return OrderingPolicy(
        payment_ttl=timedelta(seconds=settings.order_payment_ttl_s),
        auto_complete_after=timedelta(days=settings.order_auto_complete_days),
        currency=settings.currency,
    )


__all__ = [
    "actor_of",
    "add_cart_item",
    "auto_complete_orders",
    "cancel_order",
    "cart_count",
    "checkout_cart",
    "checkout_payment_status",
    "confirm_receipt",
    "expire_overdue_orders",
    "get_cart",
    "get_checkout",
    "get_order",
    "list_merchant_orders",
    "list_orders",
    "mark_delivered",
    "merge_guest_cart",
    "new_guest_key",
    "place_checkout",
    "policy_from_settings",
    "prune",
    "record_payment",
    "record_refund",
    "refresh_checkout_payment",
    "remove_cart_item",
    "require_merchant",
    "set_cart_item",
    "ship_order",
]
