"""The interface every carrier adapter implements.

Booking, cancelling, intercepting and querying call the carrier: never with a transaction
open. Verifying a tracking push only checks its signature and reads it, so it may run
anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kuaidan.logistics.domain import Place, Recipient
from kuaidan.logistics.domain.tracking import TrackingPush


@dataclass(frozen=True, slots=True)
class BookingRequest:
    reference: str  # our shipment reference: the carrier's idempotency key for the booking
    carrier_code: str
    origin: Place
    destination: Place
    weight_g: int
    recipient: Recipient
    callback_url: str
    salt: str  # the secret the carrier's pushes are signed with


@dataclass(frozen=True, slots=True)
class Booking:
    tracking_number: str
    label: str  # the waybill label as the carrier prints it
    task_id: str


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A cancel or interception: refused by the carrier is a result, not an error."""

    succeeded: bool
    message: str


class CarrierGateway(Protocol):
    name: str

    async def book(self, request: BookingRequest) -> Booking:
        """Idempotent per ``request.reference``; raises ``CarrierError`` when it fails."""
        ...

    async def cancel(self, *, carrier_code: str, tracking_number: str) -> ActionResult: ...

    async def intercept(
        self, *, carrier_code: str, tracking_number: str, reason: str
    ) -> ActionResult: ...

    async def query(self, *, carrier_code: str, tracking_number: str) -> TrackingPush: ...

    def verify_push(self, *, param: str, sign: str, salt: str) -> TrackingPush:
        """The push's facts; raises ``SignatureInvalid`` when it is not genuine or unreadable."""
        ...
