"""Figures about the code itself: lines per area and their share of the package, the largest
files, functions longer than 60 lines, and the import contracts. Run from the repository root:

    .venv/bin/python scripts/code_figures.py [--json]
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

LONG_FUNCTION = 60


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def _long_functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            length = node.end_lineno - node.lineno + 1
            if length > LONG_FUNCTION:
                found.append((f"{path}:{node.lineno} {node.name}", length))
    return found


def figures(root: Path) -> dict[str, object]:
    files = sorted((root / "kuaidan").rglob("*.py"))
    per_file = {str(f.relative_to(root)): _lines(f) for f in files}
    total = sum(per_file.values())
    areas: Counter[str] = Counter()
    for name, count in per_file.items():
        parts = Path(name).parts
        areas[parts[1] if len(parts) > 2 else "(top level)"] += count
    long = sorted(
        (item for f in files for item in _long_functions(f.relative_to(root))),
        key=lambda item: -item[1],
    )
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return {
        "package_lines": total,
        "areas": {a: [n, round(100 * n / total, 1)] for a, n in areas.most_common()},
        "largest_files": sorted(per_file.items(), key=lambda item: -item[1])[:5],
        "functions_over_60_lines": len(long),
        "longest_functions": long[:5],
        "contracts": [(c["name"], c["type"]) for c in contracts],
    }


def main() -> None:
    found = figures(Path.cwd())
    if "--json" in sys.argv:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return
    print(f"package: {found['package_lines']} non-blank lines in kuaidan/")
    for area, (count, share) in found["areas"].items():  # type: ignore[attr-defined]
        print(f"  {area:<14} {count:>6}  {share:>5} %")
    print("largest files:")
    for name, count in found["largest_files"]:  # type: ignore[attr-defined]
        print(f"  {count:>5}  {name}")
    print(f"functions over {LONG_FUNCTION} lines: {found['functions_over_60_lines']}")
    for name, length in found["longest_functions"]:  # type: ignore[attr-defined]
        print(f"  {length:>4}  {name}")
    contracts = found["contracts"]
    print(f"import contracts: {len(contracts)}")  # type: ignore[arg-type]
    for name, kind in contracts:  # type: ignore[attr-defined]
        print(f"  {kind:<10} {name}")


if __name__ == "__main__":
    main()
