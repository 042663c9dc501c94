"""A bench run's report: the figures of each scenario, ratios to the database's limit, checks.

``rows()`` is pure (what a table shows); ``render()`` prints it with Rich; ``as_json()`` is the
``--json`` output.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from kuaidan.bench.stats import Figures, ratio

COLUMNS = (
    "scenario",
    "backend",
    "conc.",
    "ok",
    "ok/s",
    "answers/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "server CPU ms/answer",
    "client CPU ms/answer",
    "database CPU ms/answer",
    "errors",
)


@dataclass
class Report:
    """Everything one bench command measured, plus the machine it ran on."""

    command: str
    figures: list[Figures] = field(default_factory=list)
    ratios: dict[str, float | None] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=lambda: machine_facts())

    def add_ratio(self, name: str, app: Figures, limit: Figures) -> None:
        self.ratios[name] = ratio(app.rate_per_s, limit.rate_per_s)

    def as_json(self) -> str:
        return json.dumps(
            {
                "command": self.command,
                "machine": self.machine,
                "figures": [f.as_dict() for f in self.figures],
                "ratios": self.ratios,
                "checks": self.checks,
            },
            indent=2,
            ensure_ascii=False,
        )


def machine_facts() -> dict[str, Any]:
    """CPU count, load average and time of the run (figures are noisy on a busy machine)."""
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def row(figures: Figures) -> list[str]:
    """One table row: latency over every attempt, CPU per answer of the server and of the load
    generator when measured ("-" otherwise), errors as ``kind=count``."""
    lat = figures.latency
    errors = ", ".join(f"{k}={v}" for k, v in figures.errors.items()) or "-"
    return [
        figures.scenario,
        figures.backend,
        str(figures.concurrency),
        str(figures.ok),
        f"{figures.rate_per_s:.1f}",
        f"{figures.answers_per_s:.1f}",
        f"{lat.p50_ms:.1f}",
        f"{lat.p95_ms:.1f}",
        f"{lat.p99_ms:.1f}",
        f"{lat.max_ms:.1f}",
        _cpu(figures, "server_cpu_ms_per_answer"),
        _cpu(figures, "client_cpu_ms_per_answer"),
        _cpu(figures, "database_cpu_ms_per_answer"),
        errors,
    ]


def _cpu(figures: Figures, name: str) -> str:
    value = figures.extra.get(name)
    return f"{value:.2f}" if isinstance(value, int | float) and value > 0 else "-"


def outcome_rows(figures: Figures) -> list[list[str]]:
    """Latency per kind of answer (ok, sold_out, busy, ...) of one scenario."""
    return [
        [
            f"  {figures.scenario}: {kind}",
            str(lat.count),
            f"{lat.p50_ms:.1f}",
            f"{lat.p95_ms:.1f}",
            f"{lat.p99_ms:.1f}",
            f"{lat.max_ms:.1f}",
        ]
        for kind, lat in figures.by_outcome.items()
    ]


def render(report: Report, console: Console) -> None:
    table = Table(title=f"kuaidan bench {report.command}", show_lines=False)
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("scenario", "errors") else "right")
    for figures in report.figures:
        table.add_row(*row(figures))
    console.print(table)
    detail = Table(title="latency per answer")
    for name in ("answer", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        detail.add_column(name, justify="left" if name == "answer" else "right")
    for figures in report.figures:
        for line in outcome_rows(figures):
            detail.add_row(*line)
    console.print(detail)
    for figures in report.figures:
        if figures.extra:
            console.print(f"{figures.scenario}: {figures.extra}", highlight=False, markup=False)
    for name, value in report.ratios.items():
        console.print(f"{name}: {value if value is not None else 'n/a'}", highlight=False)
    for name, value in report.checks.items():
        console.print(f"check {name}: {value}", highlight=False, markup=False)
    load = report.machine["load_average"]
    console.print(f"machine: {report.machine['cpus']} CPUs, load average {load}", highlight=False)
