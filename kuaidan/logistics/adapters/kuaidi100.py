"""A tracking aggregator speaking Kuaidi100's protocol (the carrier simulator speaks it too).

Calls: a form POST to ``{base}/api`` with ``method`` (``bOrder``, ``cancel``, ``intercept``,
``query``), ``key`` (our customer key), ``t`` (milliseconds), ``param`` (JSON) and ``sign`` =
upper-case hex MD5 of ``param + t + key + secret``; the answer is JSON ``{result, returnCode,
message, data}``. Pushes: a form POST of ``param`` (JSON) and ``sign`` = upper-case hex MD5 of
``param + salt``, the salt we gave when booking.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kuaidan.core import signing
from kuaidan.logistics.adapters.base import ActionResult, Booking, BookingRequest
from kuaidan.logistics.domain import BookingRefused, CarrierError, SignatureInvalid
from kuaidan.logistics.domain.tracking import ScanReport, TrackingPush

MAX_SCANS = 500


def md5_sign(*parts: str) -> str:
    """Upper-case hex MD5 of the parts joined: the aggregator's signature (not our choice)."""
    data = "".join(parts).encode("utf-8")
    return hashlib.md5(data).hexdigest().upper()  # noqa: S324 (the protocol's signature)


def sign_matches(expected: str, sent: str) -> bool:
    return hmac.compare_digest(expected.encode(), sent.strip().upper().encode())


@dataclass(frozen=True, slots=True)
class AggregatorConfig:
    base_url: str
    credentials_file: Path  # {"key": …, "secret": …} issued by the aggregator
    ca_file: Path
    http_timeout_s: float = 10.0


class Kuaidi100Gateway:
    """Implements ``CarrierGateway`` against a Kuaidi100-style aggregator."""

    name = "kuaidi100"

    def __init__(self, config: AggregatorConfig) -> None:
        self.config = config

    def _credentials(self) -> tuple[str, str]:
        try:
            data = json.loads(self.config.credentials_file.read_text(encoding="utf-8"))
            return str(data["key"]), str(data["secret"])
        except (OSError, ValueError, KeyError) as exc:
            raise CarrierError("the aggregator's credentials are not available") from exc

    async def _call(self, method: str, param: dict[str, Any]) -> dict[str, Any]:
        key, secret = self._credentials()
        text = signing.canonical_json(param)
        stamp = str(int(time.time() * 1000))
        form = {"method": method, "key": key, "t": stamp, "param": text}
        form["sign"] = md5_sign(text, stamp, key, secret)
        url = f"{self.config.base_url.rstrip('/')}/api"
        try:
            context = signing.client_context(self.config.ca_file)
            async with httpx.AsyncClient(
                verify=context, timeout=self.config.http_timeout_s
            ) as client:
                answer = await client.post(url, data=form)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise CarrierError(f"the carrier aggregator is unreachable: {exc!r}") from exc
        if not isinstance(body, dict):
            raise CarrierError("unreadable aggregator answer")
        return body

    async def book(self, request: BookingRequest) -> Booking:
        param = {
            "kuaidicom": request.carrier_code,
            "orderId": request.reference,
            "recManName": request.recipient.name,
            "recManMobile": request.recipient.phone,
            "recManPrintAddr": request.recipient.address,
            "recProvince": request.destination.province,
            "recCity": request.destination.city,
            "sendProvince": request.origin.province,
            "sendCity": request.origin.city,
            "weightG": request.weight_g,
            "callBackUrl": request.callback_url,
            "salt": request.salt,
            "resultv2": "4",
        }
        body = await self._call("bOrder", param)
        data = body.get("data") if body.get("result") is True else None
        if body.get("result") is False and body.get("returnCode") == "400":
            raise BookingRefused(f"booking refused: {body.get('message')}")
        if not isinstance(data, dict) or not data.get("kuaidinum"):
            raise CarrierError(f"booking failed: {body.get('message') or body}")
        return Booking(str(data["kuaidinum"]), str(data.get("label", "")), str(data["taskId"]))

    async def _action(self, method: str, param: dict[str, Any]) -> ActionResult:
        body = await self._call(method, param)
        if body.get("returnCode") in ("200", "400"):
            return ActionResult(body.get("result") is True, str(body.get("message", "")))
        raise CarrierError(f"{method} failed: {body.get('message') or body}")

    async def cancel(self, *, carrier_code: str, tracking_number: str) -> ActionResult:
        return await self._action(
            "cancel", {"kuaidicom": carrier_code, "kuaidinum": tracking_number}
        )

    async def intercept(
        self, *, carrier_code: str, tracking_number: str, reason: str
    ) -> ActionResult:
        param = {"kuaidicom": carrier_code, "kuaidinum": tracking_number, "reason": reason}
        return await self._action("intercept", param)

    async def query(self, *, carrier_code: str, tracking_number: str) -> TrackingPush:
        body = await self._call("query", {"com": carrier_code, "num": tracking_number})
        data = body.get("data")
        if body.get("result") is not True or not isinstance(data, dict):
            raise CarrierError(f"query failed: {body.get('message') or body}")
        try:
            return parse_last_result(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise CarrierError(f"unreadable tracking: {exc}") from exc

    def verify_push(self, *, param: str, sign: str, salt: str) -> TrackingPush:
        if not sign or not sign_matches(md5_sign(param, salt), sign):
            raise SignatureInvalid("the push's signature does not verify")
        try:
            body = json.loads(param)
            return parse_last_result(body["lastResult"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureInvalid(f"a signed push we cannot read: {exc}") from exc


def _scan(item: dict[str, Any], state: str | None) -> ScanReport:
    when = item.get("ftime") or item["time"]
    code = item.get("statusCode")
    return ScanReport(
        at=signing.parse_protocol_time(str(when)),
        context=str(item.get("context", ""))[:500],
        location=str(item.get("location") or item.get("areaName") or "")[:100],
        state=state,
        sub_code=str(code)[:8] if code not in (None, "") else None,
    )


def parse_last_result(result: dict[str, Any]) -> TrackingPush:
    """``lastResult`` (or a query's answer) → a push. Scans come newest first; one without a
    ``statusCode`` takes the push's ``state`` when it is the newest, else says nothing."""
    items = result.get("data") or []
    if not isinstance(items, list) or len(items) > MAX_SCANS:
        raise ValueError("data must be a list of scans")
    number, code = str(result["nu"]).strip(), str(result["com"]).strip()
    if not number or not code or len(number) > 40 or len(code) > 30:
        raise ValueError("a push names its tracking number and carrier")
    state = str(result.get("state", "")) or None
    scans = tuple(
        _scan(item, state if index == 0 else None)
        for index, item in enumerate(i for i in items if isinstance(i, dict))
    )
    return TrackingPush(
        tracking_number=number,
        carrier_code=code,
        state=state or "",
        signed=str(result.get("ischeck", "0")) == "1",
        scans=scans,
    )
