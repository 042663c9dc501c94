"""Pydantic request and response models of ordering's JSON API (amounts in integer fen)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from kuaidan.catalog.domain import media_url
from kuaidan.core.fields import Fen, Id, MultilineText, Quantity, RequestBody, ResponseBody, Text
from kuaidan.core.pagination import MAX_PAGE_SIZE, PageMeta, PageOf
from kuaidan.logistics.domain import ExceptionCaseInfo, ShipmentInfo
from kuaidan.merchants.domain import ReturnAddress, ShippingSettings
from kuaidan.ordering.domain import (
    MAX_LINES,
    Actor,
    OrderStatus,
)
from kuaidan.ordering.readmodels import (
    AddressSnapshot,
    CarrierOption,
    CartGroup,
    CartLine,
    CartView,
    CheckoutResult,
    CheckoutView,
    OrderLineView,
    OrderSummary,
    OrderView,
    TimelineEntry,
    TrackingView,
)

MAX_PAGE = 10_000


def _image_url(path: str | None) -> str | None:
    return media_url(path) if path else None


# --- requests -------------------------------------------------------------------------------


class CartItemPut(RequestBody):
    quantity: Quantity = Field(description="Units of this SKU.")


class CheckoutItem(RequestBody):
    sku_id: Id
    quantity: Quantity


class CheckoutCreate(RequestBody):
    """Either ``items``, or ``from_cart`` (optionally only the cart lines in ``sku_ids``)."""

    items: list[CheckoutItem] | None = Field(None, min_length=1, max_length=MAX_LINES)
    from_cart: bool = False
    sku_ids: list[Id] | None = Field(None, min_length=1, max_length=MAX_LINES)
    address_id: Id = Field(description="One of the buyer's delivery addresses.")
    accepted_prices: dict[Id, Fen] | None = Field(
        None,
        max_length=MAX_LINES,
        description="Unit prices (fen) per SKU the buyer saw or confirmed; a different "
        "price today answers 409 price_changed.",
    )
    note: MultilineText | None = Field(None, max_length=200, description="A note for the merchant.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.items is None) == (not self.from_cart):
            raise ValueError("send either items or from_cart: true")
        if self.sku_ids is not None and not self.from_cart:
            raise ValueError("sku_ids picks lines of the cart; it needs from_cart: true")
        if any(price < 0 for price in (self.accepted_prices or {}).values()):
            raise ValueError("prices are whole numbers of fen ≥ 0")
        return self


class OrderListParams(RequestBody):
    status: OrderStatus | None = None
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=MAX_PAGE_SIZE)


class CancelRequest(RequestBody):
    reason: MultilineText = Field(min_length=1, max_length=200)


class ShipRequest(RequestBody):
    """Ship with the best carrier (``{}``), a chosen one (``carrier_code`` from the
    proposals), or a parcel the merchant booked itself (``carrier_code`` + ``tracking_number``)."""

    carrier_code: Text | None = Field(
        None, min_length=1, max_length=30, description="A proposed carrier; empty = the best."
    )
    tracking_number: Text | None = Field(
        None,
        min_length=6,
        max_length=40,
        description="A parcel the merchant booked with the carrier itself.",
    )
    weight_g: int = Field(1000, ge=1, le=100_000, description="The parcel's weight in grams.")


class CarrierQuery(RequestBody):
    weight_g: int = Field(1000, ge=1, le=100_000, description="The parcel's weight in grams.")


class ShippingSettingsPut(RequestBody):
    province: Text = Field("", max_length=20, description="e.g. 浙江省 or Zhejiang; empty = none")
    city: Text = Field("", max_length=50, description="e.g. 杭州市")
    auto_book_carrier: bool = Field(
        False, description="Book the best carrier as soon as an order is paid."
    )


class ReturnAddressPut(RequestBody):
    """Whitespace of any kind (tabs, line breaks) is collapsed to single spaces."""

    recipient: MultilineText = Field(
        max_length=100, description="Who receives returns, e.g. 好厨房 售后"
    )
    phone: MultilineText = Field(
        max_length=40, description="5-20 characters with at least 5 digits"
    )
    province: MultilineText = Field(max_length=20, description="e.g. 浙江省 or Zhejiang")
    city: MultilineText = Field(max_length=50, description="e.g. 杭州市")
    line: MultilineText = Field(
        max_length=400, description="District, street and number (4-200 characters)"
    )


class RatingCreate(RequestBody):
    stars: int = Field(ge=1, le=5)
    comment: MultilineText = Field("", max_length=500)


# --- responses: cart ------------------------------------------------------------------------


class CartLineRead(ResponseBody):
    sku_id: int
    product_id: int | None
    title: str
    sku_label: str
    attributes: dict[str, str]
    image_url: str | None
    quantity: int
    price_fen: int
    price_seen_fen: int
    price_changed: bool
    available: int
    out_of_stock: bool
    delisted: bool
    problem: str | None
    total_fen: int

    @classmethod
    def of(cls, line: CartLine) -> CartLineRead:
        return cls(
            sku_id=line.sku_id,
            product_id=line.product_id,
            title=line.title,
            sku_label=line.sku_label,
            attributes=dict(line.attributes),
            image_url=_image_url(line.image),
            quantity=line.quantity,
            price_fen=line.price_fen,
            price_seen_fen=line.price_seen_fen,
            price_changed=line.price_changed,
            available=line.available,
            out_of_stock=line.out_of_stock,
            delisted=line.delisted,
            problem=line.problem.value if line.problem else None,
            total_fen=line.total_fen,
        )


class CartGroupRead(ResponseBody):
    merchant_id: int | None
    merchant_name: str
    items_fen: int
    lines: list[CartLineRead]

    @classmethod
    def of(cls, group: CartGroup) -> CartGroupRead:
        lines = [CartLineRead.of(line) for line in group.lines]
        return cls(
            merchant_id=group.merchant_id,
            merchant_name=group.merchant_name,
            items_fen=group.items_fen,
            lines=lines,
        )


class CartRead(ResponseBody):
    groups: list[CartGroupRead]
    quantity: int
    total_fen: int
    currency: str
    has_problems: bool

    @classmethod
    def of(cls, cart: CartView) -> CartRead:
        return cls(
            groups=[CartGroupRead.of(group) for group in cart.groups],
            quantity=cart.quantity,
            total_fen=cart.total_fen,
            currency=cart.currency,
            has_problems=cart.has_problems,
        )


# --- responses: orders and checkouts --------------------------------------------------------


class OrderSummaryRead(ResponseBody):
    number: str
    checkout_reference: str
    merchant_id: int
    merchant_name: str
    status: OrderStatus
    total_fen: int
    currency: str
    placed_at: datetime
    payment_deadline: datetime
    item_count: int
    first_title: str
    first_image_url: str | None

    @classmethod
    def of(cls, order: OrderSummary) -> OrderSummaryRead:
        return cls(
            number=order.number,
            checkout_reference=order.checkout_reference,
            merchant_id=order.merchant_id,
            merchant_name=order.merchant_name,
            status=order.status,
            total_fen=order.total_fen,
            currency=order.currency,
            placed_at=order.placed_at,
            payment_deadline=order.payment_deadline,
            item_count=order.item_count,
            first_title=order.first_title,
            first_image_url=_image_url(order.first_image),
        )


class AddressRead(ResponseBody):
    recipient: str
    phone: str
    province: str
    city: str
    district: str
    line: str
    postcode: str | None

    @classmethod
    def of(cls, address: AddressSnapshot) -> AddressRead:
        return cls(
            recipient=address.recipient,
            phone=address.phone,
            province=address.province,
            city=address.city,
            district=address.district,
            line=address.line,
            postcode=address.postcode,
        )


class OrderLineRead(ResponseBody):
    sku_id: int
    product_id: int
    title: str
    sku_label: str
    attributes: dict[str, str]
    image_url: str | None
    quantity: int
    unit_price_fen: int
    total_fen: int

    @classmethod
    def of(cls, line: OrderLineView) -> OrderLineRead:
        return cls(
            sku_id=line.sku_id,
            product_id=line.product_id,
            title=line.title,
            sku_label=line.sku_label,
            attributes=dict(line.attributes),
            image_url=_image_url(line.image),
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            total_fen=line.total_fen,
        )


class TimelineRead(ResponseBody):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineRead:
        return cls(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            from_status=entry.from_status,
            to_status=entry.to_status,
            note=entry.note,
        )


class OrderRead(OrderSummaryRead):
    items_fen: int
    shipping_fen: int
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    carrier: str | None
    tracking_number: str | None
    note: str | None
    refund_requested: bool
    refunded_at: datetime | None
    shipment_reference: str | None
    address: AddressRead
    lines: list[OrderLineRead]
    timeline: list[TimelineRead]
    allowed_actions: list[str] = Field(description="What the caller may do next.")

    @classmethod
    def of_view(cls, order: OrderView, *, actor: Actor) -> OrderRead:
        return cls(
            **OrderSummaryRead.of(order.summary).model_dump(),
            items_fen=order.items_fen,
            shipping_fen=order.shipping_fen,
            paid_at=order.paid_at,
            shipped_at=order.shipped_at,
            delivered_at=order.delivered_at,
            completed_at=order.completed_at,
            cancelled_at=order.cancelled_at,
            cancel_reason=order.cancel_reason,
            carrier=order.carrier,
            tracking_number=order.tracking_number,
            note=order.note,
            refund_requested=order.refund_request_no is not None,
            refunded_at=order.refunded_at,
            shipment_reference=order.shipment_reference,
            address=AddressRead.of(order.address),
            lines=[OrderLineRead.of(line) for line in order.lines],
            timeline=[TimelineRead.of(entry) for entry in order.timeline],
            allowed_actions=[action.value for action in order.actions_for(actor)],
        )


class CheckoutRead(ResponseBody):
    reference: str
    items_fen: int
    shipping_fen: int
    total_fen: int
    currency: str
    created_at: datetime
    payment_deadline: datetime
    pay_url: str | None
    awaiting_payment: bool

    @classmethod
    def of(cls, checkout: CheckoutView) -> CheckoutRead:
        return cls(
            reference=checkout.reference,
            items_fen=checkout.items_fen,
            shipping_fen=checkout.shipping_fen,
            total_fen=checkout.total_fen,
            currency=checkout.currency,
            created_at=checkout.created_at,
            payment_deadline=checkout.payment_deadline,
            pay_url=checkout.pay_url if checkout.awaiting_payment else None,
            awaiting_payment=checkout.awaiting_payment,
        )


class CheckoutResultRead(ResponseBody):
    checkout: CheckoutRead
    orders: list[OrderRead]

    @classmethod
    def of(cls, result: CheckoutResult, *, actor: Actor) -> CheckoutResultRead:
        return cls(
            checkout=CheckoutRead.of(result.checkout),
            orders=[OrderRead.of_view(order, actor=actor) for order in result.orders],
        )


class OrderPage(ResponseBody):
    items: list[OrderSummaryRead]
    meta: PageMeta

    @classmethod
    def of(cls, page: PageOf[OrderSummary]) -> OrderPage:
        return cls(
            items=[OrderSummaryRead.of(order) for order in page.items],
            meta=PageMeta(page=page.page, size=page.size, total=page.total, pages=page.pages),
        )


# --- shipping and tracking ------------------------------------------------------------------


class CarrierOptionRead(ResponseBody):
    code: str
    name: str
    status: str
    zone: str
    price_fen: int
    promise_days: int
    on_time_rate: float
    intact_rate: float
    satisfaction: float
    score: float
    best: bool
    reasons: list[str]

    @classmethod
    def of(cls, option: CarrierOption) -> CarrierOptionRead:
        quote = option.quote
        return cls(
            code=quote.code,
            name=quote.name,
            status=quote.status.value,
            zone=quote.zone.value,
            price_fen=quote.price_fen,
            promise_days=quote.promise_days,
            on_time_rate=quote.quality.on_time_rate,
            intact_rate=quote.quality.intact_rate,
            satisfaction=quote.quality.satisfaction,
            score=round(quote.score, 2),
            best=option.best,
            reasons=list(option.reasons),
        )


class ShippingSettingsRead(ResponseBody):
    province: str | None
    city: str | None
    auto_book_carrier: bool

    @classmethod
    def of(cls, settings: ShippingSettings) -> ShippingSettingsRead:
        return cls(
            province=settings.province,
            city=settings.city,
            auto_book_carrier=settings.auto_book_carrier,
        )


class ReturnAddressRead(ResponseBody):
    recipient: str
    phone: str
    province: str
    city: str
    line: str
    one_line: str

    @classmethod
    def of(cls, address: ReturnAddress) -> ReturnAddressRead:
        return cls(
            recipient=address.recipient,
            phone=address.phone,
            province=address.province,
            city=address.city,
            line=address.line,
            one_line=address.one_line(),
        )


class ScanRead(ResponseBody):
    at: datetime
    context: str
    location: str
    status: str | None


class ShipmentRead(ResponseBody):
    reference: str
    carrier_code: str
    carrier_name: str
    tracking_number: str | None
    booking: str
    status: str
    status_at: datetime | None
    eta_earliest: datetime | None
    eta_latest: datetime | None
    delivered_at: datetime | None
    scans: list[ScanRead] = Field(description="Newest first.")

    @classmethod
    def of(cls, info: ShipmentInfo) -> ShipmentRead:
        return cls(
            reference=info.reference,
            carrier_code=info.carrier_code,
            carrier_name=info.carrier_name,
            tracking_number=info.tracking_number,
            booking=info.booking,
            status=info.status.value,
            status_at=info.status_at,
            eta_earliest=info.eta.earliest if info.eta else None,
            eta_latest=info.eta.latest if info.eta else None,
            delivered_at=info.delivered_at,
            scans=[
                ScanRead(
                    at=s.at,
                    context=s.context,
                    location=s.location,
                    status=s.status.value if s.status else None,
                )
                for s in info.scans
            ],
        )


class CaseRead(ResponseBody):
    case_id: int
    shipment_reference: str
    kind: str
    status: str
    opened_at: datetime
    resolution: str | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, case: ExceptionCaseInfo) -> CaseRead:
        return cls(
            case_id=case.case_id,
            shipment_reference=case.shipment_reference,
            kind=case.kind.value,
            status=case.status.value,
            opened_at=case.opened_at,
            resolution=case.resolution.value if case.resolution else None,
            resolved_at=case.resolved_at,
        )


class TrackingRead(ResponseBody):
    mark: str = Field(description="Changes whenever anything here does.")
    shipment: ShipmentRead | None
    earlier: list[ShipmentRead]
    cases: list[CaseRead]
    rating: int | None
    can_rate: bool

    @classmethod
    def of(cls, view: TrackingView) -> TrackingRead:
        return cls(
            mark=view.mark,
            shipment=ShipmentRead.of(view.shipment) if view.shipment else None,
            earlier=[ShipmentRead.of(s) for s in view.earlier],
            cases=[CaseRead.of(c) for c in view.cases],
            rating=view.rating,
            can_rate=view.can_rate,
        )
