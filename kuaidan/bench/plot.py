"""Plot saved ``--json`` reports: throughput and p99 against concurrency, per scenario and backend.

``points()`` is pure (which numbers a plot shows); ``plot()`` draws them with matplotlib.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCENARIOS = ("checkout", "flash-sale", "db-limit spread", "db-limit one-sku", "floor")


def points(
    reports: Iterable[dict[str, Any]],
) -> dict[tuple[str, str], list[tuple[int, float, float]]]:
    """(scenario, backend) → sorted (concurrency, throughput/s, p99 ms).

    A flash sale's throughput is its accepted-order rate, the floor's every answer per second
    (they are all "sold out"); anything else's is ok answers/s. Mixed runs are left out: their
    flash sale shares the machine with other checkouts.
    """
    found: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for report in reports:
        if report.get("command") == "mixed":
            continue
        for fig in report.get("figures", []):
            if fig["scenario"] not in SCENARIOS:
                continue
            rate = fig["extra"].get("accepted_rate_per_s", fig["rate_per_s"])
            if fig["scenario"] == "floor":
                rate = fig["answers_per_s"]
            key = (fig["scenario"], fig["backend"])
            found.setdefault(key, []).append((fig["concurrency"], rate, fig["latency"]["p99_ms"]))
    return {key: sorted(set(values)) for key, values in sorted(found.items())}


def load_reports(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def plot(series: dict[tuple[str, str], list[tuple[int, float, float]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rate_ax, p99_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for (scenario, backend), values in series.items():
        xs = [v[0] for v in values]
        style = "-o" if backend == "postgres" else "--s"
        rate_ax.plot(xs, [v[1] for v in values], style, label=f"{scenario} ({backend})")
        p99_ax.plot(xs, [v[2] for v in values], style, label=f"{scenario} ({backend})")
    rate_ax.set(xlabel="concurrent buyers", ylabel="orders/s", title="throughput", yscale="log")
    p99_ax.set(xlabel="concurrent buyers", ylabel="p99 latency (ms)", title="p99", yscale="log")
    for ax in (rate_ax, p99_ax):
        ax.set_xscale("log", base=2)
        ax.grid(True, which="both", alpha=0.3)
    rate_ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
