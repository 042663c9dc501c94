"""Health and metrics endpoints: /healthz, /readyz, /metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from starlette.responses import Response

from kuaidan.core.errors import Forbidden
from kuaidan.deps import Uow, container_of
from kuaidan.ops import service
from kuaidan.ops.domain import may_scrape

router = APIRouter(tags=["ops"])
log = logging.getLogger(__name__)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and writable")
async def readyz(uow: Uow) -> Response:
    try:
        await service.check_ready(uow=uow)
    except Exception as exc:  # any failure means "not ready"; say which, without internals
        log.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    settings = container_of(request).settings
    allowed = may_scrape(
        client_ip=request.client.host if request.client else None,
        authorization=request.headers.get("authorization", ""),
        allow_networks=settings.metrics_allow_networks,
        token=settings.metrics_token,
    )
    if not allowed:
        raise Forbidden("metrics are served to the configured addresses or with the token")
    if settings.metrics_dir is None:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    # One of several worker processes: the sum of all of theirs.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(settings.metrics_dir))  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
