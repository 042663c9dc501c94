"""HTML routes of ordering: the cart (buyers and guests), checkout, a checkout's result page
(where the buyer enters the one-time code of a payment risk held), the buyer's orders and the
merchant's order console (shipping through a proposed carrier, and the shop's shipping settings).
The pages of after-sales, changes and interception live in those sub-areas.

A guest's cart is found by the ``kd_cart`` cookie. The first ordering page a buyer opens after
logging in (the cart, checkout, orders, or adding an item) moves that guest cart into theirs
and drops the cookie. Every domain error on these pages becomes a friendly page, or the form
again with the message, with the error's 4xx status; signing in is asked for by a redirect.
"""

from __future__ import annotations

from kuaidan.ordering.pagekit import router
from kuaidan.ordering.pages import cart, orders, shipping

__all__ = ["cart", "orders", "router", "shipping"]
