"""A unit test cannot reach the network, not even loopback; its event loop still runs."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pytest_socket import SocketBlockedError

# pytest-socket warns as it refuses; the refusal itself is what these tests look at.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")


def test_connecting_to_loopback_is_refused() -> None:
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 5432), timeout=1)


def test_opening_an_internet_socket_is_refused() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_resolving_a_name_is_refused() -> None:
    with pytest.raises(SocketBlockedError):
        socket.getaddrinfo("localhost", 443)


async def test_async_test_runs_but_cannot_connect_to_loopback() -> None:
    # The loop is running (this coroutine is on it); a connection from it is refused.
    with pytest.raises(SocketBlockedError):
        await asyncio.open_connection("127.0.0.1", 5432)


def test_a_new_event_loop_can_wake_itself() -> None:
    # A fresh loop builds its self-pipe from a Unix socket pair, which stays allowed.
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(asyncio.sleep(0, result="woke")) == "woke"
    finally:
        loop.close()
