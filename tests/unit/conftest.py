"""Unit tests run without a network: every test here has its sockets disabled.

pytest-socket's ``disable_socket`` marker goes on each test below this folder, so creating an
internet socket (or resolving a name) raises ``SocketBlockedError``, loopback included.
``--allow-unix-socket`` (in the pytest options) keeps Unix sockets open: an asyncio event loop
on Linux wakes itself through a Unix socket pair, and async unit tests need their loop. A test
that needs a real server belongs in tests/integration, so none here may turn sockets back on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest's collection hook sees every item of the run; only this folder's are marked.
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        wants_network = "socket_enabled" in getattr(item, "fixturenames", ())
        if wants_network or item.get_closest_marker("enable_socket"):
            raise pytest.UsageError(
                f"{item.nodeid} turns sockets on; a test that needs the network belongs in "
                "tests/integration"
            )
        item.add_marker(pytest.mark.disable_socket)
