"""Serving a simulator's ASGI app over TLS: blocking, or in a thread of this process."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from kuaidan.core.tls import server_context

START_TIMEOUT_S = 30


@dataclass
class Running:
    """A server started by :func:`start_in_thread`."""

    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread


def tls_config(
    app: Any, *, host: str, port: int, cert: Path, key: Path, log_level: str
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        ssl_context_factory=lambda _c, _d: server_context(cert, key),
        log_level=log_level,
        server_header=False,
        lifespan="on",
    )


def start_in_thread(app: Any, *, host: str, port: int, cert: Path, key: Path, name: str) -> Running:
    """Bind first (``port=0`` takes a free one), start a daemon thread, wait until it listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(
        tls_config(app, host=host, port=bound, cert=cert, key=key, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.02)
    shown = "localhost" if host == "0.0.0.0" else host  # noqa: S104
    return Running(f"https://{shown}:{bound}", bound, server, thread)
