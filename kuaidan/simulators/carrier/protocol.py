"""The aggregator's side of the protocol: checking the merchant's signed calls, and building
and signing the tracking pushes it sends back.

Calls: form fields ``method``, ``key``, ``t`` (ms), ``param`` (JSON), ``sign`` = upper-case
hex MD5 of ``param + t + key + secret``. Pushes: form fields ``param`` (JSON) and ``sign`` =
upper-case hex MD5 of ``param + salt``. The simulator is an outside party: it shares only the
clock format and JSON helpers of ``kuaidan.core.signing`` with the merchant side.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kuaidan.core import signing
from kuaidan.core.clock import AcceleratedClock

CREDENTIALS_FILE = "credentials.json"
MAX_CLOCK_SKEW_MS = 10 * 60 * 1000
STATE_TEXT = {
    "0": "在途",
    "1": "揽收",
    "2": "疑难",
    "3": "签收",
    "4": "退签",
    "5": "派件",
    "6": "退回",
    "14": "拒签",
}
ACCEPTED = {"result": True, "returnCode": "200", "message": "成功"}


class ProtocolError(Exception):
    """A call the aggregator refuses, with the ``returnCode`` it answers."""

    def __init__(self, message: str, *, code: str = "400") -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True, slots=True)
class CarrierSimConfig:
    """Everything the simulator needs, taken from kuaidan's settings by ``server.py``."""

    data_dir: Path
    push_ca: Path  # to verify the merchant's HTTPS certificate
    push_delays_s: tuple[float, ...]
    time_factor: float  # simulated seconds per real second
    delay_probability: float
    loss_probability: float
    damage_probability: float
    seed: int | None
    test_hooks: bool
    host: str
    port: int
    tick_s: float = 0.05
    # A simulated clock shared with kuaidan (benches): parcels are booked at its time and
    # their scans released by it; None: booked at the real time, and a journey's planned
    # hours pass ``time_factor`` times faster than real ones.
    clock: AcceleratedClock | None = None

    @property
    def scan_speed(self) -> float:
        """Planned journey hours per hour of the clock that stamps scans."""
        return 1.0 if self.clock is not None else self.time_factor

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / CREDENTIALS_FILE


def md5_sign(*parts: str) -> str:
    return hashlib.md5("".join(parts).encode("utf-8")).hexdigest().upper()  # noqa: S324


def load_credentials(config: CarrierSimConfig) -> tuple[str, str]:
    data = json.loads(config.credentials_file.read_text(encoding="utf-8"))
    return str(data["key"]), str(data["secret"])


def verify_call(params: Mapping[str, str], config: CarrierSimConfig) -> dict[str, Any]:
    """Check key, clock and signature of a call; returns its ``param`` object."""
    key, secret = load_credentials(config)
    if params.get("key") != key:
        raise ProtocolError("未知的 key", code="401")
    stamp, text, sign = params.get("t", ""), params.get("param", ""), params.get("sign", "")
    if not stamp.isdigit() or abs(int(stamp) - int(time.time() * 1000)) > MAX_CLOCK_SKEW_MS:
        raise ProtocolError("时间戳无效", code="401")
    expected = md5_sign(text, stamp, key, secret)
    if not hmac.compare_digest(expected.encode(), sign.upper().encode()):
        raise ProtocolError("签名错误", code="401")
    try:
        param = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("param 不是 JSON") from exc
    if not isinstance(param, dict):
        raise ProtocolError("param 不是对象")
    return param


def text_field(param: Mapping[str, Any], name: str, *, limit: int = 200) -> str:
    value = param.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ProtocolError(f"缺少或无效的 {name}")
    return value.strip()


def answer(message: str, *, ok: bool = True, code: str = "200", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"result": ok, "returnCode": code, "message": message}
    if data:
        body["data"] = data
    return body


def scan_item(scan: Mapping[str, Any]) -> dict[str, str]:
    """One entry of ``lastResult.data`` (``resultv2`` style, with ``statusCode``)."""
    at = signing.format_protocol_time(datetime.fromisoformat(scan["at"]))
    return {
        "time": at,
        "ftime": at,
        "context": scan["context"],
        "location": scan["location"],
        "areaName": scan["location"],
        "status": STATE_TEXT.get(scan["state"], "在途"),
        "statusCode": scan["code"],
    }


def last_result(com: str, nu: str, scans: list[dict[str, Any]]) -> dict[str, Any]:
    """The parcel as Kuaidi100 describes it: newest scan first."""
    state = scans[-1]["state"] if scans else "1"
    return {
        "message": "ok",
        "nu": nu,
        "com": com,
        "ischeck": "1" if state in ("3", "4") else "0",
        "condition": "F00",
        "status": "200",
        "state": state,
        "data": [scan_item(s) for s in reversed(scans)],
    }


def push_form(com: str, nu: str, scans: list[dict[str, Any]], salt: str) -> dict[str, str]:
    result = last_result(com, nu, scans)
    done = result["ischeck"] == "1"
    body = {
        "status": "shutdown" if done else "polling",
        "billstatus": "check" if done else "got",
        "message": "",
        "autoCheck": "0",
        "comOld": "",
        "comNew": "",
        "lastResult": result,
    }
    param = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return {"param": param, "sign": md5_sign(param, salt)}
