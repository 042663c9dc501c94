"""The results table of docs/benchmarks.md, from the ``--json`` reports bench-all.sh saved.

python scripts/bench_table.py docs/bench-results
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = (
    "run",
    "scenario",
    "backend",
    "conc.",
    "ok",
    "answers/s",
    "ok/s",
    "accepted/s",
    "p50 ms",
    "p99 ms",
    "sold-out p99 ms",
    "server CPU ms/answer",
    "client CPU ms/answer",
    "database CPU ms/answer",
    "load (1 min)",
)
ORDER = ("db-limit", "checkout", "flash", "mixed", "floor")


def _run_name(path: Path) -> str:
    return path.stem.split("-", 1)[1] if "-" in path.stem else path.stem


def _sort_key(path: Path) -> tuple[int, int, int, str]:
    backend = 0 if path.stem.startswith("postgres") else 1 if path.stem.startswith("sqlite") else 2
    name = _run_name(path)
    kind = next((i for i, prefix in enumerate(ORDER) if name.startswith(prefix)), len(ORDER))
    digits = "".join(ch for ch in name if ch.isdigit())
    return backend, kind, int(digits or 0), name


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def rows(folder: Path) -> list[list[str]]:
    table = []
    for path in sorted(folder.glob("*.json"), key=_sort_key):
        report = json.loads(path.read_text(encoding="utf-8"))
        load = report.get("machine", {}).get("load_average", [None])[0]
        for fig in report["figures"]:
            extra = fig.get("extra", {})
            sold_out = fig.get("by_outcome", {}).get("sold_out", {})
            table.append(
                [
                    _run_name(path),
                    fig["scenario"],
                    fig["backend"],
                    _cell(fig["concurrency"]),
                    _cell(fig["ok"]),
                    _cell(fig.get("answers_per_s")),
                    _cell(fig["rate_per_s"]),
                    _cell(extra.get("accepted_rate_per_s")),
                    _cell(fig["latency"]["p50_ms"]),
                    _cell(fig["latency"]["p99_ms"]),
                    _cell(sold_out.get("p99_ms")),
                    _cell(extra.get("server_cpu_ms_per_answer")),
                    _cell(extra.get("client_cpu_ms_per_answer")),
                    _cell(extra.get("database_cpu_ms_per_answer")),
                    _cell(load),
                ]
            )
    return table


def main(folder: str) -> None:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(Path(folder))]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/bench-results")
