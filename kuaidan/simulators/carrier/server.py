"""Run the carrier simulator over HTTPS: blocking (``kuaidan sandbox-carrier``) or in a thread.

On first start it creates, in ``data_dir/sandbox-carrier/``, its self-signed certificate and
the customer credentials it issues to kuaidan (``credentials.json``, mode 0600: a key and a
secret), which kuaidan reads from there unless configured otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from kuaidan.config import Settings
from kuaidan.core.tls import ensure_self_signed, server_context
from kuaidan.simulators.carrier.app import create_simulator_app
from kuaidan.simulators.carrier.protocol import CarrierSimConfig

START_TIMEOUT_S = 30


def simulator_config(settings: Settings, *, port: int | None = None) -> CarrierSimConfig:
    return CarrierSimConfig(
        data_dir=settings.sandbox_carrier_dir,
        push_ca=settings.sandbox_carrier_push_ca_file,
        push_delays_s=settings.sandbox_carrier_push_delays_s,
        time_factor=settings.sandbox_carrier_time_factor,
        delay_probability=settings.sandbox_carrier_delay_probability,
        loss_probability=settings.sandbox_carrier_loss_probability,
        damage_probability=settings.sandbox_carrier_damage_probability,
        seed=settings.sandbox_carrier_seed,
        test_hooks=settings.sandbox_carrier_test_hooks,
        host=settings.host,
        port=settings.sandbox_carrier_port if port is None else port,
    )


def ensure_credentials(path: Path) -> None:
    """Issue a customer key and secret once, written with mode 0600 from the first byte."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"key": secrets.token_hex(8), "secret": secrets.token_hex(16)}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    tmp.replace(path)


def prepare(config: CarrierSimConfig) -> tuple[Path, Path]:
    """Create the credentials and certificate once; returns (cert, key) for TLS."""
    ensure_credentials(config.credentials_file)
    return ensure_self_signed(config.data_dir)


def _uvicorn_config(
    config: CarrierSimConfig, cert: Path, key: Path, log_level: str
) -> uvicorn.Config:
    return uvicorn.Config(
        create_simulator_app(config),
        host=config.host,
        port=config.port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        ssl_context_factory=lambda _c, _d: server_context(cert, key),
        log_level=log_level,
        server_header=False,
        lifespan="on",
    )


def serve(settings: Settings, *, port: int | None = None) -> None:
    """Serve the simulator (blocking) until interrupted."""
    config = simulator_config(settings, port=port)
    cert, key = prepare(config)
    uvicorn.Server(_uvicorn_config(config, cert, key, settings.log_level)).run()


@dataclass
class SimulatorHandle:
    """A simulator running in a thread of this process."""

    url: str
    port: int
    cert: Path
    config: CarrierSimConfig
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout_s: float = 15) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout_s)


def start_in_thread(settings: Settings, *, port: int | None = None) -> SimulatorHandle:
    """Start the simulator in a daemon thread and wait until it listens (``port=0``: any)."""
    config = simulator_config(settings, port=port)
    cert, key = prepare(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(config, cert, key, "warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sandbox-carrier", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the carrier simulator did not start")
        time.sleep(0.02)
    host = "localhost" if config.host == "0.0.0.0" else config.host  # noqa: S104
    return SimulatorHandle(f"https://{host}:{bound}", bound, cert, config, server, thread)
