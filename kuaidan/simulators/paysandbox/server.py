"""Run the sandbox provider over HTTPS: blocking (``kuaidan sandbox-pay``) or in a thread.

On first start it creates, in ``data_dir/sandbox-pay/``, its self-signed certificate and its
RSA key pair; kuaidan verifies the sandbox with ``provider-public.pem`` from there, and the
sandbox verifies kuaidan with ``data_dir/pay-app-public.pem``, which kuaidan writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from kuaidan.config import Settings
from kuaidan.core import signing
from kuaidan.core.tls import ensure_self_signed
from kuaidan.simulators._serving import start_in_thread as _start_thread
from kuaidan.simulators._serving import tls_config
from kuaidan.simulators.paysandbox.app import create_sandbox_app
from kuaidan.simulators.paysandbox.protocol import SandboxConfig

START_TIMEOUT_S = 30


def sandbox_config(settings: Settings, *, port: int | None = None) -> SandboxConfig:
    return SandboxConfig(
        data_dir=settings.sandbox_pay_dir,
        app_id=settings.pay_app_id,
        app_public_key=settings.data_dir / "pay-app-public.pem",
        notify_ca=settings.sandbox_pay_notify_ca_file,
        notify_delays_s=settings.sandbox_pay_notify_delays_s,
        test_hooks=settings.sandbox_pay_test_hooks,
        host=settings.host,
        port=settings.sandbox_pay_port if port is None else port,
    )


def prepare(config: SandboxConfig) -> tuple[Path, Path]:
    """Create the sandbox's certificate and key pair once; returns (cert, key) for TLS."""
    signing.ensure_key_pair(config.private_key_file, config.public_key_file)
    return ensure_self_signed(config.data_dir)


def serve(settings: Settings, *, port: int | None = None) -> None:
    """Serve the sandbox (blocking) until interrupted."""
    config = sandbox_config(settings, port=port)
    cert, key = prepare(config)
    app = create_sandbox_app(config)
    uvicorn.Server(
        tls_config(
            app,
            host=config.host,
            port=config.port,
            cert=cert,
            key=key,
            log_level=settings.log_level,
        )
    ).run()


@dataclass
class SandboxHandle:
    """A sandbox running in a thread of this process."""

    url: str
    port: int
    cert: Path
    config: SandboxConfig
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout_s: float = 15) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout_s)


def start_in_thread(settings: Settings, *, port: int | None = None) -> SandboxHandle:
    """Start the sandbox in a daemon thread and wait until it listens.

    ``port=0`` takes a free port; by default it is ``settings.sandbox_pay_port``.
    """
    config = sandbox_config(settings, port=port)
    cert, key = prepare(config)
    running = _start_thread(
        create_sandbox_app(config),
        host=config.host,
        port=config.port,
        cert=cert,
        key=key,
        name="sandbox-pay",
    )
    return SandboxHandle(running.url, running.port, cert, config, running.server, running.thread)
