"""Browser fixtures: Playwright driving Debian's Chromium (never a downloaded browser build).

`make test` runs scripts/ensure-browser.sh first, which installs the system package where it
can. Where no Chromium is found the browser tests are skipped, and the skip says why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def find_chromium() -> str | None:
    override = os.environ.get("KUAIDAN_CHROMIUM")
    for candidate in (override, *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "browser test skipped: no system Chromium (install Debian's `chromium` package; "
            "`make test` does so when it runs as root with apt-get)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
