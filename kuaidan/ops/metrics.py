"""Prometheus metrics for HTTP traffic, and the middleware that records them."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import Receive, Scope, Send

from kuaidan.core.asgi import HttpMiddleware, ResponseStart

REQUESTS = Counter(
    "kuaidan_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "kuaidan_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter(
    "kuaidan_http_errors_total", "HTTP responses with status >= 500", ["method", "route"]
)


class MetricsMiddleware(HttpMiddleware):
    """Count requests and time them, labelled by route template (never by raw path)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        answer = ResponseStart(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            status = answer.status or 500
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - start)
            if status >= 500:
                ERRORS.labels(method, template).inc()


# --- payment risk control (the risk area counts through ``RiskCounters``) -------------------

RISK_DECISIONS = Counter(
    "kuaidan_risk_decisions_total", "Risk decisions on payment attempts", ["action"]
)
RISK_CODE_CHECKS = Counter(
    "kuaidan_risk_code_checks_total", "One-time codes entered by buyers", ["outcome"]
)
RISK_HOLDS_RESOLVED = Counter(
    "kuaidan_risk_holds_resolved_total", "Held payments resolved", ["outcome"]
)


class RiskCounters:
    """What the composition root hands the risk area as its metrics (``RiskMetrics``)."""

    def decided(self, action: str) -> None:
        RISK_DECISIONS.labels(action).inc()

    def code_checked(self, outcome: str) -> None:
        RISK_CODE_CHECKS.labels(outcome).inc()

    def hold_resolved(self, outcome: str) -> None:
        RISK_HOLDS_RESOLVED.labels(outcome).inc()
