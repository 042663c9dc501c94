"""The simulator's HTTP service: the aggregator's API (``POST /api``) and, only when enabled,
test hooks under ``/sandbox/`` that are no part of the protocol."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from kuaidan.simulators.carrier import journey, protocol
from kuaidan.simulators.carrier.courier import Courier, Hooks, simulated_hours
from kuaidan.simulators.carrier.protocol import CarrierSimConfig, ProtocolError, answer
from kuaidan.simulators.carrier.store import ACTIVE, Parcel, Store

MAX_FORM_FIELDS = 10
PREFIXES = {"shunfeng": "SF", "jd": "JDVA", "ems": "EMS", "zhongtong": "ZTO", "yuantong": "YT"}
NAMES = {"shunfeng": "顺丰", "jd": "京东", "ems": "EMS", "zhongtong": "中通", "yuantong": "圆通"}
COM_CODE = re.compile(r"^[a-z][a-z0-9]{1,29}$")
AFTER_DISPATCH = ("5", "3", "4", "14", "6", "2")


@dataclass
class Simulator:
    config: CarrierSimConfig
    store: Store
    hooks: Hooks
    courier: Courier


def sim_of(request: Request) -> Simulator:
    sim: Simulator = request.app.state.simulator
    return sim


def _route(param: Mapping[str, Any]) -> journey.Route:
    fields = [protocol.text_field(param, n, limit=50) for n in ("sendProvince", "sendCity")]
    fields += [protocol.text_field(param, n, limit=50) for n in ("recProvince", "recCity")]
    route = journey.Route(*fields)
    if route.dest_province not in journey.CAPITALS or route.origin_province not in journey.CAPITALS:
        raise ProtocolError("超出服务范围")
    return route


def _label(com: str, nu: str, route: journey.Route, param: Mapping[str, Any]) -> str:
    phone = str(param.get("recManMobile", ""))
    masked = phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
    return (
        f"【{NAMES.get(com, com)}】运单号 {nu}\n寄：{route.origin_province} {route.origin_city}\n"
        f"收：{param.get('recManName', '')} {masked} {route.dest_province} {route.dest_city} "
        f"{param.get('recManPrintAddr', '')}"
    )


def _fate(sim: Simulator) -> str:
    if sim.hooks.next_fate is not None:
        fate, sim.hooks.next_fate = sim.hooks.next_fate, None
        return fate
    config = sim.config
    return journey.choose_fate(
        sim.courier.rng,
        delay=config.delay_probability,
        loss=config.loss_probability,
        damage=config.damage_probability,
    )


def _book(sim: Simulator, param: Mapping[str, Any]) -> dict[str, Any]:
    com = protocol.text_field(param, "kuaidicom", limit=30)
    if not COM_CODE.match(com):
        raise ProtocolError("不支持的快递公司")
    order_id = protocol.text_field(param, "orderId", limit=64)
    found = sim.store.by_order(order_id)
    if found is None:
        callback = protocol.text_field(param, "callBackUrl", limit=1000)
        if urlsplit(callback).scheme != "https":
            raise ProtocolError("callBackUrl 必须是 https")
        weight = param.get("weightG")
        if not isinstance(weight, int) or not 0 < weight <= 100_000:
            raise ProtocolError("重量无效")
        route = _route(param)
        digits = "".join(secrets.choice("0123456789") for _ in range(12))
        nu = PREFIXES.get(com, com[:2].upper()) + digits
        fate = _fate(sim)
        plan = journey.plan(route, fate, sim.courier.rng, delay_hours=sim.hooks.delay_hours)
        found = sim.store.add(
            Parcel(
                nu=nu, com=com, order_id=order_id, task_id=secrets.token_hex(8),
                callback_url=callback, salt=protocol.text_field(param, "salt", limit=64),
                route=_route_dict(route), fate=fate, label=_label(com, nu, route, param),
                booked_at=_now(sim).isoformat(), plan=[s.as_dict() for s in plan],
                emitted=0, status=ACTIVE,
            )
        )  # fmt: skip
        if sim.hooks.manual_next:
            sim.hooks.manual_next = False
            sim.courier.manual.add(found.nu)
        if sim.hooks.simulated_stamps_next:
            sim.hooks.simulated_stamps_next = False
            sim.courier.simulated_stamps.add(found.nu)
    return answer("提交成功", taskId=found.task_id, kuaidinum=found.nu, label=found.label)


def _now(sim: Simulator) -> datetime:
    """Booking time: the shared simulated clock's, or the real one."""
    return sim.config.clock.now() if sim.config.clock is not None else datetime.now(UTC)


def _route_dict(route: journey.Route) -> dict[str, str]:
    return {
        "origin_province": route.origin_province,
        "origin_city": route.origin_city,
        "dest_province": route.dest_province,
        "dest_city": route.dest_city,
    }


def _parcel(sim: Simulator, param: Mapping[str, Any], field: str = "kuaidinum") -> Parcel:
    parcel = sim.store.parcel(protocol.text_field(param, field, limit=40))
    if parcel is None:
        raise ProtocolError("查无此单", code="404")
    return parcel


def _cancel(sim: Simulator, param: Mapping[str, Any]) -> dict[str, Any]:
    parcel = _parcel(sim, param)
    if sim.store.cancel(parcel.nu):
        return answer("取消成功")
    return answer("快件已揽收，无法取消", ok=False, code="400")


def _intercept(sim: Simulator, param: Mapping[str, Any]) -> dict[str, Any]:
    for _ in range(3):
        parcel = _parcel(sim, param)
        if parcel.status != ACTIVE or parcel.emitted == 0 or parcel.last_state in AFTER_DISPATCH:
            return answer("快件已派送、签收或异常，拦截失败", ok=False, code="400")
        now_h = simulated_hours(
            parcel, factor=sim.config.time_factor, now=time.time(), clock=sim.config.clock
        )
        route = journey.Route(**parcel.route)
        location = parcel.plan[parcel.emitted - 1]["location"]
        turn = journey.PlannedScan(now_h + 0.5, "6", "6", "拦截成功，快件将退回寄件人", location)
        back = journey.return_journey(route, sim.courier.rng, turn.hours)[1:]
        plan = parcel.plan[: parcel.emitted] + [s.as_dict() for s in (turn, *back)]
        if sim.store.replan(parcel.nu, expect_emitted=parcel.emitted, plan=plan):
            return answer("拦截成功")
    return answer("请稍后重试", ok=False, code="500")


def _query(sim: Simulator, param: Mapping[str, Any]) -> dict[str, Any]:
    parcel = _parcel(sim, param, "num")
    return answer(
        "ok",
        **protocol.last_result(
            parcel.com, parcel.nu, parcel.scans(speed=sim.courier.scan_speed(parcel.nu))
        ),
    )


METHODS = {"bOrder": _book, "cancel": _cancel, "intercept": _intercept, "query": _query}

api = APIRouter()


@api.post("/api")
async def api_call(request: Request) -> JSONResponse:
    sim = sim_of(request)
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        method = METHODS.get(params.get("method", ""))
        if method is None:
            raise ProtocolError("未知的 method")
        body = method(sim, protocol.verify_call(params, sim.config))
    except ProtocolError as error:
        body = answer(error.message, ok=False, code=error.code)
    return JSONResponse(body)


# --- test hooks: not part of the protocol -----------------------------------------------------

hooks = APIRouter(prefix="/sandbox")


class HookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    next_fate: str | None = Field(default=None, pattern="^(normal|delay|lost|damaged|refused)$")
    delay_hours: float | None = Field(default=None, ge=0, le=100_000)
    duplicate: bool | None = None
    misroute_next: int | None = Field(default=None, ge=0, le=100)
    manual_next: bool | None = None
    simulated_stamps_next: bool | None = None


class PushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upto: int | None = Field(default=None, ge=0, le=500)


@hooks.post("/hooks")
async def set_hooks(request: Request, body: HookSettings) -> dict[str, Any]:
    current = sim_of(request).hooks
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(current, name, value)
    return dict(current.__dict__)


@hooks.get("/parcels/{nu}")
async def hook_parcel(request: Request, nu: str) -> dict[str, Any]:
    sim = sim_of(request)
    parcel = sim.store.parcel(nu)
    if parcel is None:
        raise HTTPException(404, "no such parcel")
    return {
        "nu": parcel.nu,
        "fate": parcel.fate,
        "status": parcel.status,
        "planned": len(parcel.plan),
        "scans": parcel.scans(speed=sim.courier.scan_speed(parcel.nu)),
        "pushes": sim.store.pushes(nu),
    }


@hooks.post("/parcels/{nu}/push")
async def hook_push(request: Request, nu: str, body: PushRequest) -> dict[str, Any]:
    """Push now, e.g. an older snapshot (``upto`` scans) to arrive out of order."""
    sim = sim_of(request)
    parcel = sim.store.parcel(nu)
    if parcel is None:
        raise HTTPException(404, "no such parcel")
    return {"accepted": await sim.courier.push(parcel, upto=body.upto)}


def create_simulator_app(config: CarrierSimConfig) -> FastAPI:
    """The simulator as an ASGI app (credentials and certificate must exist: see server.py)."""
    store = Store(config.data_dir / "carrier.db")
    hook_state = Hooks()
    sim = Simulator(
        config, store, hook_state, Courier(config=config, store=store, hooks=hook_state)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sim.courier.start()
        try:
            yield
        finally:
            await sim.courier.aclose()
            store.close()

    app = FastAPI(
        title="kuaidan carrier simulator", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.simulator = sim
    app.include_router(api)
    if config.test_hooks:
        app.include_router(hooks)
    return app
