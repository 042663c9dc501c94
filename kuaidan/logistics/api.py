"""JSON routes of logistics: carriers, and the carrier aggregator's tracking pushes.

The push endpoint speaks the aggregator's protocol, not ours: a form-encoded POST of
``param`` and ``sign``, answered with ``{"result": true, "returnCode": "200", "message":
"成功"}`` once the push is stored (or was stored before); the worker applies it soon after.
It carries no cookie and takes no session, so it sits outside the CSRF check and outside the
OpenAPI document of our API.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from kuaidan import deps
from kuaidan.logistics import service
from kuaidan.logistics.domain import SignatureInvalid
from kuaidan.logistics.schemas import CarrierRead

log = logging.getLogger(__name__)

MAX_PUSH_FIELDS = 10
ACCEPTED = {"result": True, "returnCode": "200", "message": "成功"}

router = APIRouter(tags=["logistics"])


@router.post("/logistics/callbacks/kuaidi100", include_in_schema=False)
async def kuaidi100_push(request: Request) -> JSONResponse:
    """Verify and store the push, answer at once; the apply job applies it shortly after.

    The unit of work is made here rather than through the ``Uow`` dependency: this route is
    the hottest one, and it needs no user and no transaction of its own."""
    form = await request.form(max_fields=MAX_PUSH_FIELDS)
    param, sign = form.get("param"), form.get("sign")
    if not isinstance(param, str) or not isinstance(sign, str) or not param or not sign:
        log.warning("rejected a tracking push: param or sign missing")
        return _refused("缺少 param 或 sign")
    uow = deps.container_of(request).unit_of_work()
    try:
        await service.accept_push(uow=uow, param=param, sign=sign)
    except SignatureInvalid as exc:
        return _refused(exc.message)
    finally:
        await uow.close()
    return JSONResponse(ACCEPTED)


def _refused(message: str) -> JSONResponse:
    body = {"result": False, "returnCode": "400", "message": message}
    return JSONResponse(body, status_code=400)


@router.get("/logistics/carriers", summary="Carriers under contract")
async def list_carriers(_user: deps.CurrentUser, uow: deps.Uow) -> list[CarrierRead]:
    return [CarrierRead.model_validate(c) for c in await service.list_carriers(uow=uow)]
