"""Run the platform: HTTPS on the main port, and a plain-HTTP listener that only redirects."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from kuaidan.config import Settings
from kuaidan.core.logs import logging_config
from kuaidan.core.tls import ensure_self_signed, server_context

log = logging.getLogger("kuaidan.server")


def tls_files(settings: Settings) -> tuple[Path, Path]:
    """The configured certificate, or a self-signed one generated into the data dir."""
    if settings.tls_cert and settings.tls_key:
        return settings.tls_cert, settings.tls_key
    if settings.tls_cert or settings.tls_key:
        raise SystemExit("set both KUAIDAN_TLS_CERT and KUAIDAN_TLS_KEY, or neither")
    return ensure_self_signed(settings.data_dir)


def redirect_app(https_port: int) -> Callable[[Scope, Receive, Send], object]:
    """An ASGI app that answers every plain-HTTP request with a redirect to HTTPS."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        host = "localhost"
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1").rsplit(":", 1)[0] or host
        target = f"https://{host}:{https_port}{scope.get('raw_path', b'/').decode('latin-1')}"
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        await send(
            {
                "type": "http.response.start",
                "status": 308,
                "headers": [(b"location", target.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return app


def start_redirect_listener(settings: Settings) -> uvicorn.Server | None:
    if not settings.http_port:
        return None
    config = uvicorn.Config(
        redirect_app(settings.https_port),
        host=settings.host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="http-redirect", daemon=True)
    thread.start()
    return server


class TlsContextFactory:
    """Builds our TLS context in each worker process (a class, so it pickles for ``--workers``)."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert, self.key = cert, key

    def __call__(
        self, _config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]
    ) -> ssl.SSLContext:
        return server_context(self.cert, self.key)


def https_options(settings: Settings, *, workers: int) -> dict[str, Any]:
    """uvicorn's settings for the HTTPS listener: the certificate, bind address, workers and
    limits. Shared with ``kuaidan bench floor``, whose bare app must be served exactly alike."""
    cert, key = tls_files(settings)
    return {
        "host": settings.host,
        "port": settings.https_port,
        "workers": workers,
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key),
        "ssl_context_factory": TlsContextFactory(cert, key),
        "log_level": settings.log_level,
        "log_config": logging_config(settings.log_level, settings.log_format),
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
    }


def serve(settings: Settings, *, workers: int = 1) -> None:
    """Serve the app over HTTPS (blocking) with ``workers`` processes."""
    options = https_options(settings, workers=workers)
    redirect = start_redirect_listener(settings)
    try:
        with shared_metrics(workers):
            uvicorn.run("kuaidan.app:create_app", factory=True, **options)
    finally:
        if redirect is not None:
            redirect.should_exit = True


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With more than one worker, a new directory where each worker's metrics live (the
    Prometheus client's multiprocess mode), handed to the workers through their environment
    before they start, and removed afterwards: any worker answering /metrics adds up all."""
    if workers < 2:
        yield
        return
    directory = tempfile.mkdtemp(prefix="kuaidan-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["KUAIDAN_METRICS_DIR"] = directory
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)
