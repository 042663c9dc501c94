"""Run the carrier simulator over HTTPS: blocking (``kuaidan sandbox-carrier``) or in a thread.

On first start it creates, in ``data_dir/sandbox-carrier/``, its self-signed certificate and
the customer credentials it issues to kuaidan (``credentials.json``, mode 0600: a key and a
secret), which kuaidan reads from there unless configured otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from kuaidan.config import Settings
from kuaidan.core.clock import AcceleratedClock
from kuaidan.core.tls import ensure_self_signed
from kuaidan.simulators._serving import start_in_thread as _start_thread
from kuaidan.simulators._serving import tls_config
from kuaidan.simulators.carrier.app import create_simulator_app
from kuaidan.simulators.carrier.protocol import CarrierSimConfig

START_TIMEOUT_S = 30


def simulator_config(
    settings: Settings, *, port: int | None = None, clock: AcceleratedClock | None = None
) -> CarrierSimConfig:
    """The simulator's configuration; with ``clock``, it runs on that shared simulated clock
    (whose factor replaces ``sandbox_carrier_time_factor``)."""
    return CarrierSimConfig(
        data_dir=settings.sandbox_carrier_dir,
        push_ca=settings.sandbox_carrier_push_ca_file,
        push_delays_s=settings.sandbox_carrier_push_delays_s,
        time_factor=clock.factor if clock else settings.sandbox_carrier_time_factor,
        delay_probability=settings.sandbox_carrier_delay_probability,
        loss_probability=settings.sandbox_carrier_loss_probability,
        damage_probability=settings.sandbox_carrier_damage_probability,
        seed=settings.sandbox_carrier_seed,
        test_hooks=settings.sandbox_carrier_test_hooks,
        host=settings.host,
        port=settings.sandbox_carrier_port if port is None else port,
        clock=clock,
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


def serve(settings: Settings, *, port: int | None = None) -> None:
    """Serve the simulator (blocking) until interrupted."""
    config = simulator_config(settings, port=port)
    cert, key = prepare(config)
    app = create_simulator_app(config)
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


def start_in_thread(
    settings: Settings, *, port: int | None = None, clock: AcceleratedClock | None = None
) -> SimulatorHandle:
    """Start the simulator in a daemon thread and wait until it listens (``port=0``: any)."""
    config = simulator_config(settings, port=port, clock=clock)
    cert, key = prepare(config)
    running = _start_thread(
        create_simulator_app(config),
        host=config.host,
        port=config.port,
        cert=cert,
        key=key,
        name="sandbox-carrier",
    )
    return SimulatorHandle(running.url, running.port, cert, config, running.server, running.thread)
