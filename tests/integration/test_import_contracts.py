"""The import contracts in pyproject.toml hold DESIGN.md section 2, and cannot silently go
weak: a copy of the package with one bad import of each kind fails ``lint-imports``, naming
the contract and the import; the untouched copy passes; a stale ignore is an error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# (module file, the bad import, the contract it breaks, how the report names the import)
BAD_IMPORTS = [
    (
        "kuaidan/ordering/service/placement.py",
        "from kuaidan.inventory.flashsale import FlashSale",
        "inventory: another area reaches only its service, events and domain",
        "kuaidan.ordering.service.placement -> kuaidan.inventory.flashsale",
    ),
    (
        "kuaidan/ordering/api/edge.py",
        "from kuaidan.inventory.flashsale import FlashSale",
        "inventory: another area reaches only its service, events and domain",
        "kuaidan.ordering.api.edge -> kuaidan.inventory.flashsale",
    ),
    (
        "kuaidan/ordering/web_context.py",
        "from kuaidan.security.middleware import DeviceCookieMiddleware",
        "security: another area reaches only its service, events and domain",
        "kuaidan.ordering.web_context -> kuaidan.security.middleware",
    ),
    (
        "kuaidan/ordering/service/tracking.py",
        "from kuaidan.logistics.repository import inbox",
        "logistics: another area reaches only its service, events and domain",
        "kuaidan.ordering.service.tracking -> kuaidan.logistics.repository.inbox",
    ),
    (
        "kuaidan/core/money.py",
        "from kuaidan.config import Settings",
        "core imports no business area, no composition module and not the settings",
        "kuaidan.core.money -> kuaidan.config",
    ),
    (
        "kuaidan/ordering/domain/__init__.py",
        "import redis",
        "domain and events stay pure",
        "kuaidan.ordering.domain may not import redis",
    ),
    (
        "kuaidan/logistics/service/__init__.py",
        "from kuaidan.ordering.aftersales.repository import after_sales_of",
        "ordering.aftersales: another area reaches only its service, events and domain",
        "kuaidan.logistics.service -> kuaidan.ordering.aftersales.repository",
    ),
    (
        "kuaidan/ordering/service/lifecycle.py",
        "from kuaidan.ordering.interception import service as interception",
        "ordering's core imports none of its sub-areas",
        "kuaidan.ordering.service.lifecycle -> kuaidan.ordering.interception",
    ),
    (
        "kuaidan/ordering/changes/service/requests.py",
        "from kuaidan.ordering.models import Order",
        "ordering's sub-areas reach the core only through its service, events and domain",
        "kuaidan.ordering.changes.service.requests -> kuaidan.ordering.models",
    ),
    (
        "kuaidan/catalog/service.py",
        "from kuaidan.ordering import service as ordering",
        "synchronous calls between areas point one way",
        "kuaidan.catalog.service -> kuaidan.ordering",
    ),
]


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package, the contracts and their plug-in, copied beside each other."""
    root = tmp_path_factory.mktemp("contracts")
    shutil.copytree(ROOT / "kuaidan", root / "kuaidan", ignore=shutil.ignore_patterns("*.pyc"))
    (root / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "import_contracts.py", root / "scripts")
    shutil.copy2(ROOT / "pyproject.toml", root)
    return root


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _broken_contracts(report: str) -> set[str]:
    return {line.split(" BROKEN")[0] for line in report.splitlines() if " BROKEN" in line}


def test_the_untouched_package_keeps_every_contract(copy: Path) -> None:
    done = _lint(copy)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_each_bad_import_breaks_its_contract(copy: Path) -> None:
    originals = {path: (copy / path).read_text() for path, *_ in BAD_IMPORTS}
    try:
        for path, line, _, _ in BAD_IMPORTS:
            module = copy / path
            module.write_text(module.read_text() + f"\n{line}  # noqa\n")
        done = _lint(copy)
    finally:
        for path, text in originals.items():
            (copy / path).write_text(text)
    report = " ".join(done.stdout.split())  # long names wrap in the report
    assert done.returncode == 1, report[-3000:]
    broken = _broken_contracts(done.stdout)
    for _, _, contract, shown in BAD_IMPORTS:
        assert any(name.startswith(contract) for name in broken), (contract, broken)
        assert shown in report, shown


def test_a_stale_ignore_is_an_error(copy: Path) -> None:
    config = copy / "pyproject.toml"
    original = config.read_text()
    stale = '    "kuaidan.*.handlers -> kuaidan.*.events",\n'
    assert stale in original
    config.write_text(
        original.replace(stale, stale + '    "kuaidan.catalog.api -> kuaidan.nothing_here",\n', 1)
    )
    try:
        done = _lint(copy)
    finally:
        config.write_text(original)
    assert done.returncode != 0
    assert "kuaidan.nothing_here" in done.stdout + done.stderr
