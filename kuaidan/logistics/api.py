"""JSON routes of logistics: carriers, and the carrier aggregator's tracking pushes.

The push endpoint speaks the aggregator's protocol, not ours: a form-encoded POST of
``param`` and ``sign``, answered with ``{"result": true, "returnCode": "200", "message":
"成功"}`` once the push is stored (or was stored before). It carries no cookie and takes no
session, so it sits outside the CSRF check and outside the OpenAPI document of our API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kuaidan import deps
from kuaidan.logistics import service
from kuaidan.logistics.schemas import CarrierRead

MAX_PUSH_FIELDS = 10
ACCEPTED = {"result": True, "returnCode": "200", "message": "成功"}

router = APIRouter(tags=["logistics"])


@router.post("/logistics/callbacks/kuaidi100", include_in_schema=False)
async def kuaidi100_push(request: Request, uow: deps.Uow) -> JSONResponse:
    form = await request.form(max_fields=MAX_PUSH_FIELDS)
    param, sign = form.get("param"), form.get("sign")
    if not isinstance(param, str) or not isinstance(sign, str) or not param or not sign:
        return JSONResponse(
            {"result": False, "returnCode": "400", "message": "缺少 param 或 sign"},
            status_code=400,
        )
    outcome = await service.ingest_callback(uow=uow, param=param, sign=sign)
    if outcome.accepted:
        return JSONResponse(ACCEPTED)
    return JSONResponse(
        {"result": False, "returnCode": "400", "message": outcome.detail}, status_code=400
    )


@router.get("/logistics/carriers", summary="Carriers under contract")
async def list_carriers(_user: deps.CurrentUser, uow: deps.Uow) -> list[CarrierRead]:
    return [CarrierRead.model_validate(c) for c in await service.list_carriers(uow=uow)]
