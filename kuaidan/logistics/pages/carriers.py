"""The carriers console (status changes, audited) and the scorecards page with its charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Path, Query, Request
from starlette.responses import Response

from kuaidan import deps
from kuaidan.core.errors import DomainError, InvalidInput, NotFound
from kuaidan.core.money import format_minor
from kuaidan.logistics import service
from kuaidan.logistics.domain import CarrierProfile, CarrierStatus, EtaAccuracy, Zone
from kuaidan.logistics.domain.scorecards import Scorecard
from kuaidan.logistics.pages import charts
from kuaidan.logistics.pages._common import AdminPage, page, router, see_other, whole
from kuaidan.logistics.service import carriers as registry
from kuaidan.logistics.service import scorecards
from kuaidan.logistics.service.scorecards import StoredScorecard

CarrierCode = Annotated[str, Path(min_length=1, max_length=30)]
DEFAULT_PERIODS = 6
ZONE_LABELS = {
    Zone.SAME_CITY: "同城 Same city",
    Zone.SAME_PROVINCE: "省内 Same province",
    Zone.NEIGHBOURING: "邻省 Neighbouring",
    Zone.FAR: "跨区 Far",
}


async def _carriers_page(
    request: Request, uow: deps.Uow, *, error: DomainError | None = None, form: Any = None
) -> Response:
    context = {
        "entries": await registry.carrier_registry(uow=uow),
        "zones": list(Zone),
        "zone_labels": ZONE_LABELS,
        "statuses": list(CarrierStatus),
        "error": error.message if error else None,
        "form": form or {},
    }
    return page(request, "carriers.html", context, status_code=error.status if error else 200)


@router.get("/logistics/carriers")
async def carriers_page(request: Request, uow: deps.Uow, admin: AdminPage) -> Response:
    return await _carriers_page(request, uow)


@router.post("/logistics/carriers/{code}/status", dependencies=[deps.CsrfProtected])
async def carrier_status(
    request: Request,
    uow: deps.Uow,
    admin: AdminPage,
    code: CarrierCode,
    status: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Put a carrier on probation, suspend or reinstate it, with a reason (audited)."""
    form = {"code": code, "status": status, "reason": reason}
    try:
        if status not in {s.value for s in CarrierStatus}:
            raise InvalidInput("请选择状态 Choose active, probation or suspended")
        before = await service.get_carrier(uow=uow, code=code)
        await registry.change_carrier_status(
            uow=uow, code=code, status=CarrierStatus(status), reason=reason, actor_id=admin.id
        )
    except NotFound:
        raise
    except DomainError as exc:
        return await _carriers_page(request, uow, error=exc, form=form)
    done = "unchanged" if before.status.value == status else "status"
    return see_other(f"/logistics/carriers?done={done}#carrier-{quote(code)}")


# --- scorecards -------------------------------------------------------------------------------


def _label(card: StoredScorecard) -> str:
    return f"{card.info.period_start:%m-%d}"


def _series(cards: list[StoredScorecard]) -> tuple[list[charts.Point], ...]:
    """Per period: on-time, intact and exception rates (None where nothing was measured),
    satisfaction, and claims in yuan."""

    def points(value: Callable[[Scorecard], float | None]) -> list[charts.Point]:
        return [charts.Point(_label(c), value(c.info.card)) for c in cards]

    return (
        points(lambda card: card.on_time_rate if card.delivered else None),
        points(lambda card: card.intact_rate if card.finished else None),
        points(lambda card: card.exception_rate if card.shipments else None),
        points(lambda card: card.satisfaction),
        points(lambda card: card.claims_fen / 100),
    )


def _charts(profile: CarrierProfile, cards: list[StoredScorecard]) -> dict[str, Any]:
    """The charts of the periods shown; a period without the figure plots nothing."""
    agreement = profile.agreement
    on_time, intact, exceptions, satisfaction, claims = _series(cards)
    name = profile.name
    on_low, on_high = charts.rate_range([p.value for p in on_time], agreement.on_time_target)
    in_low, in_high = charts.rate_range([p.value for p in intact], agreement.intact_target)
    cap = agreement.penalties.max_exception_rate
    ex_high = max([cap * 2, *(p.value or 0.0 for p in exceptions)])
    return {
        "on_time": charts.line_chart(
            chart_id="on-time",
            title=f"{name} 准时率 On-time rate",
            desc=f"On-time deliveries per period against the agreement's target of "
            f"{charts.percent(agreement.on_time_target)}.",
            points=on_time, low=on_low, high=on_high, fmt=charts.percent,
            target=agreement.on_time_target, target_label="目标 target",
        ),
        "intact": charts.line_chart(
            chart_id="intact",
            title=f"{name} 完好率 Intact rate",
            desc=f"Parcels finished without damage or loss per period against the target of "
            f"{charts.percent(agreement.intact_target)}.",
            points=intact, low=in_low, high=in_high, fmt=charts.percent,
            target=agreement.intact_target, target_label="目标 target",
        ),
        "satisfaction": charts.line_chart(
            chart_id="satisfaction",
            title=f"{name} 满意度 Buyer satisfaction",
            desc=f"Mean buyer rating (1-5 stars) per period against the target of "
            f"{agreement.satisfaction_target:.2f}.",
            points=satisfaction, low=1.0, high=5.0, fmt=lambda v: f"{v:.2f}",
            target=agreement.satisfaction_target, target_label="目标 target",
        ),
        "exceptions": charts.line_chart(
            chart_id="exceptions",
            title=f"{name} 异常率 Exception rate",
            desc=f"Share of shipments with an exception case per period; the agreement allows "
            f"at most {charts.percent(cap)}.",
            points=exceptions, low=0.0, high=min(1.0, ex_high), fmt=charts.percent,
            target=cap, target_label="上限 limit",
        ),
        "claims": charts.bar_chart(
            chart_id="claims",
            title=f"{name} 索赔金额 Claims",
            desc="Compensation claimed from the carrier per period, in yuan.",
            points=claims, fmt=lambda v: format_minor(round(v * 100)),
        ),
    }  # fmt: skip


@router.get("/logistics/scorecards")
async def scorecards_page(
    request: Request,
    uow: deps.Uow,
    admin: AdminPage,
    carrier: Annotated[str, Query(max_length=30)] = "",
    periods: Annotated[str, Query(max_length=3)] = "",
) -> Response:
    """One carrier's scorecards of its last N periods, as figures and charts, with the ETA
    accuracy of the deliveries in each period."""
    entries = await service.list_carriers(uow=uow)
    codes = [c.code for c in entries]
    if carrier and carrier not in codes:
        raise NotFound("没有这个承运商 No such carrier", details={"code": carrier})
    count = whole(periods, default=DEFAULT_PERIODS, low=1, high=scorecards.MAX_PERIODS)
    context: dict[str, Any] = {"carriers": entries, "chosen": None, "periods": count}
    if codes:
        code = carrier or codes[0]
        profile, cards = await scorecards.carrier_scorecards(uow=uow, code=code, periods=count)
        accuracy: list[EtaAccuracy] = [
            await service.eta_accuracy_report(
                uow=uow, since=c.info.period_start, until=c.info.period_end, carrier_code=code
            )
            for c in cards
        ]
        context.update(
            chosen=profile,
            rows=list(zip(cards, accuracy, strict=True)),
            charts=_charts(profile, cards) if cards else None,
            eta_chart=charts.line_chart(
                chart_id="eta",
                title=f"{profile.name} ETA 准确率 ETA accuracy",
                desc="Share of deliveries that arrived inside the predicted range, per period.",
                points=[
                    charts.Point(_label(c), a.within_range_rate if a.predictions else None)
                    for c, a in zip(cards, accuracy, strict=True)
                ],
                low=0.0,
                high=1.0,
                fmt=charts.percent,
            )
            if cards
            else None,
            late_fee_fen=profile.agreement.penalties.late_penalty_fen,
        )
    return page(request, "scorecards.html", context)


@router.post("/logistics/scorecards/compute", dependencies=[deps.CsrfProtected])
async def scorecards_compute(
    uow: deps.Uow, admin: AdminPage, carrier: Annotated[str, Form(max_length=30)] = ""
) -> Response:
    """Run the scorecard job now: the last complete period, penalties applied (audited)."""
    await scorecards.review_carriers_now(uow=uow, actor_id=admin.id)
    target = (
        f"/logistics/scorecards?done=computed&carrier={quote(carrier)}"
        if carrier
        else ("/logistics/scorecards?done=computed")
    )
    return see_other(target)
