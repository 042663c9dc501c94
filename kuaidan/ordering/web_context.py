"""Where a checkout comes from, read from the request for payment risk; shared by the JSON
routes and the pages of ordering."""

from __future__ import annotations

from starlette.requests import Request

from kuaidan.risk.domain import RiskContext
from kuaidan.security.domain import DEVICE_COOKIE

DEVICE_HEADER = "X-Device-Id"


def risk_context_from(request: Request) -> RiskContext:
    """The client IP, the device (an API client's ``X-Device-Id``, or the ``kd_device``
    cookie every page view sets) and the user agent; malformed values are dropped."""
    return RiskContext.of(
        ip=request.client.host if request.client else None,
        device_id=request.headers.get(DEVICE_HEADER) or request.cookies.get(DEVICE_COOKIE),
        user_agent=request.headers.get("user-agent"),
    )
