"""Run the local Alipay gateway over HTTPS: blocking (``kuaidan sandbox-alipay``) or in a thread.

On first start it creates, in ``data_dir/sandbox-alipay/``, its self-signed certificate and the
"Alipay" RSA key pair (private 0600); kuaidan verifies it with ``alipay-public.pem`` from there,
and it verifies kuaidan with the app's public key (``data_dir/alipay-app-public.pem``).
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
from kuaidan.simulators.alipaygw.app import create_gateway_app
from kuaidan.simulators.alipaygw.protocol import GatewayConfig


def gateway_config(settings: Settings, *, port: int | None = None) -> GatewayConfig:
    return GatewayConfig(
        data_dir=settings.sandbox_alipay_dir,
        app_id=settings.pay_alipay_app_id,
        seller_id=settings.pay_alipay_seller_id or "2088000000000000",
        app_public_key=settings.pay_alipay_app_public_key_file,
        notify_ca=settings.sandbox_alipay_notify_ca_file,
        notify_delays_s=settings.sandbox_alipay_notify_delays_s,
        test_hooks=settings.sandbox_alipay_test_hooks,
        host=settings.host,
        port=settings.sandbox_alipay_port if port is None else port,
    )


def prepare(config: GatewayConfig) -> tuple[Path, Path]:
    """Create the gateway's certificate and key pair once; returns (cert, key) for TLS."""
    signing.ensure_key_pair(config.private_key_file, config.public_key_file)
    return ensure_self_signed(config.data_dir)


def serve(settings: Settings, *, port: int | None = None) -> None:
    """Serve the gateway (blocking) until interrupted."""
    config = gateway_config(settings, port=port)
    cert, key = prepare(config)
    uvicorn.Server(
        tls_config(
            create_gateway_app(config),
            host=config.host,
            port=config.port,
            cert=cert,
            key=key,
            log_level=settings.log_level,
        )
    ).run()


@dataclass
class GatewayHandle:
    """A gateway running in a thread of this process."""

    url: str
    port: int
    cert: Path
    config: GatewayConfig
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/gateway.do"

    def stop(self, timeout_s: float = 15) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout_s)


def start_in_thread(settings: Settings, *, port: int | None = None) -> GatewayHandle:
    """Start the gateway in a daemon thread and wait until it listens (``port=0``: any free)."""
    config = gateway_config(settings, port=port)
    cert, key = prepare(config)
    running = _start_thread(
        create_gateway_app(config),
        host=config.host,
        port=config.port,
        cert=cert,
        key=key,
        name="sandbox-alipay",
    )
    return GatewayHandle(running.url, running.port, cert, config, running.server, running.thread)
