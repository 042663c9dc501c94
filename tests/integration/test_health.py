"""Health endpoints, the consistent error shape and the edge headers, on every backend."""

from __future__ import annotations


async def test_healthz_answers_ok(api):
    response = await api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_proves_the_database_takes_writes(api, server):
    response = await api.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["database"] == "ok"


async def test_metrics_exposes_request_counters_in_prometheus_text(api):
    await api.get("/healthz")
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert (
        'kuaidan_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    )
    assert "kuaidan_http_request_duration_seconds_bucket" in response.text


async def test_unknown_route_is_a_json_404_in_the_common_shape(api):
    response = await api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_https_responses_carry_hsts_and_hardening_headers(api):
    response = await api.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_oversized_body_is_refused_with_413(api, server):
    big = b"x" * (server.settings.max_body_bytes + 1)
    response = await api.post("/api/v1/anything", content=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
