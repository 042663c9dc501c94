"""The payments area's Prometheus counters (shown on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

RECONCILIATION_RUNS = Counter(
    "kuaidan_payment_reconciliation_runs_total", "Payment reconciliation runs", ["trigger"]
)
RECONCILIATION_FINDINGS = Counter(
    "kuaidan_payment_reconciliation_findings_total",
    "New discrepancies between our payments and the provider's records",
    ["kind"],
)
RECONCILIATION_ERRORS = Counter(
    "kuaidan_payment_reconciliation_errors_total",
    "Provider calls that failed during reconciliation (the payment is checked next run)",
)
