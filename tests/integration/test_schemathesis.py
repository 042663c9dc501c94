"""A bounded schemathesis run: the API answers what its OpenAPI document says it answers.

Every operation of the document gets a few generated requests, valid and invalid, from a buyer
and from a merchant staff member with a shop (each with its API token) and from a guest (with
whatever credentials schemathesis makes up). Each answer must not be a server
error, must have a status code and a content type the operation declares, and a body in the
declared schema. Generation is derandomized, so a run is the same every time; set
``KUAIDAN_SCHEMATHESIS_SEED`` to explore with another seed, and
``KUAIDAN_SCHEMATHESIS_EXAMPLES`` for more examples per operation.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

import httpx
import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, strategies
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kuaidan.accounts.domain import Role
from tests.conftest import LiveServer
from tests.integration.ordering_support import new_buyer, new_sku, open_market, staff

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("KUAIDAN_SCHEMATHESIS_EXAMPLES", "8"))
SEED = os.environ.get("KUAIDAN_SCHEMATHESIS_SEED")
SESSION_COOKIE = "kd_session"
# Only a guest revokes tokens: a signed-in caller would guess and revoke its own.
GUEST_ONLY = {("DELETE", "/api/v1/auth/tokens/{token_id}")}


def _settings() -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # a finding is reported, not shrunk
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def _exercise(
    operation: Any,
    session: requests.Session,
    base_url: str,
    auth: dict[str, str],
    statuses: Counter[int],
) -> list[str]:
    """Up to ``EXAMPLES`` valid and as many invalid generated requests to one operation; what
    each check found."""
    found: list[str] = []
    verify = session.verify
    cases = strategies.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @_settings()
    @hypothesis.given(case=cases)
    def run(case: Any) -> None:
        session.cookies.clear()  # each request stands alone, as a token's caller's do
        if auth:  # the caller's own token instead of generated credentials
            for generated in (case.headers, case.cookies):
                for name in ("Authorization", SESSION_COOKIE):
                    (generated or {}).pop(name, None)
        response = case.call(
            base_url=base_url, session=session, headers=auth, timeout=30, verify=verify
        )
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                title = getattr(failure, "title", type(failure).__name__)
                request = f"{case.method} {case.formatted_path} {case.query or ''} {case.body!r}"
                found.append(
                    f"{operation.label} → {response.status_code}: {title} "
                    f"[{request[:200]}] {response.text[:200]}"
                )

    if SEED is not None:
        run = hypothesis.seed(int(SEED))(run)
    run()
    return found


def _run_all(
    document: dict[str, Any], base_url: str, ca_file: str, roles: dict[str, dict[str, str]]
) -> tuple[list[str], Counter[int]]:
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    with requests.Session() as session:
        session.verify = ca_file
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()
            operation = result.ok()
            guest_only = (operation.method.upper(), operation.path) in GUEST_ONLY
            for auth in roles.values():
                if auth and guest_only:
                    continue
                failures += _exercise(operation, session, base_url, auth, statuses)
    return failures, statuses


async def test_every_operation_answers_as_its_openapi_document_declares(
    server: LiveServer, api: httpx.AsyncClient
) -> None:
    market = await open_market(server)
    await new_sku(server, market, market.shop_a, 2500, 50)
    buyer = await new_buyer(api)
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    # A guest keeps the generated credentials (mostly nonsense: a 401 where one is needed).
    roles = {"buyer": buyer.auth, "merchant": seller, "guest": {}}
    document = (await api.get("/openapi.json")).json()
    started = time.monotonic()
    failures, statuses = await asyncio.to_thread(
        _run_all, document, server.base_url, str(server.ca_file), roles
    )
    took = f"{sum(statuses.values())} requests in {time.monotonic() - started:.0f} s"
    assert not failures, "\n".join([took, *sorted(set(failures))])
    succeeded = sum(n for status, n in statuses.items() if status < 300)
    assert succeeded > 100, f"too few requests got through to be meaningful: {statuses}"
