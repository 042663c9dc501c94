"""The demo and the benchmarks need packages the platform itself does not (Pillow, psutil):
without their extra installed, each says which one to install instead of failing on an import."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from kuaidan.cli import app


@pytest.mark.parametrize(
    ("args", "module", "extra"),
    [
        (["demo", "--seed-only"], "PIL", "kuaidan[demo]"),
        (["bench", "floor"], "psutil", "kuaidan[bench]"),
    ],
)
def test_a_missing_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, args: list[str], module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert extra in " ".join(result.output.split())
