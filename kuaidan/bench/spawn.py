"""Start ``kuaidan serve --workers N`` (or the bench's floor server) on a loopback port for a
bench run, and stop it after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kuaidan.config import Settings

START_TIMEOUT_S = 60.0
SERVE = ("serve",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SpawnedServer:
    """A server process on 127.0.0.1 over the settings' data dir and database: ``kuaidan
    serve``, or another ``kuaidan`` command that serves alike (``command``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int,
        extra_env: dict[str, str],
        command: tuple[str, ...] = SERVE,
    ) -> None:
        self.port = free_port()
        self.workers = workers
        self.command = command
        self.ca = settings.data_dir / "tls-cert.pem"
        self.env = {
            **os.environ,
            **extra_env,
            "KUAIDAN_DATA_DIR": str(settings.data_dir),
            "KUAIDAN_DATABASE_URL": settings.effective_database_url,
            "KUAIDAN_HOST": "127.0.0.1",
            "KUAIDAN_HTTPS_PORT": str(self.port),
            "KUAIDAN_HTTP_PORT": "0",
            "KUAIDAN_LOG_LEVEL": "warning",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "kuaidan", *self.command, "--workers", str(self.workers)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited while starting")
            if self._healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not start within {START_TIMEOUT_S:.0f} s")

    def _healthy(self) -> bool:
        try:
            context = ssl.create_default_context(cafile=str(self.ca))
            return httpx.get(f"{self.base_url}/healthz", verify=context).status_code == 200
        except (httpx.TransportError, FileNotFoundError, ssl.SSLError):
            return False

    def cpu_seconds(self) -> float:
        """User + system CPU the server's processes (master and workers) have used so far."""
        import psutil

        if self.proc is None:
            return 0.0
        try:
            root = psutil.Process(self.proc.pid)
            total = 0.0
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
            return total
        except psutil.Error:
            return 0.0

    def kill(self) -> None:
        """SIGKILL the whole server (master and workers): a node dying mid-sale."""
        if self.proc is not None and self.proc.poll() is None:
            _kill_children(self.proc.pid)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _kill_children(pid: int) -> None:
    """SIGKILL the direct children of ``pid`` (uvicorn's worker processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        listed = children.read_text().split()
    except OSError:
        return
    for child in listed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), signal.SIGKILL)


def postgres_cpu_seconds() -> float:
    """User + system CPU the local PostgreSQL cluster has used so far: each postmaster's own
    and its ended backends' (reaped children), plus its live backends'. 0.0 when none runs
    here. A figure for a database on this machine only."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "ppid"]):
        try:
            if proc.info["name"] != "postgres":
                continue
            times = proc.cpu_times()
            total += times.user + times.system
            if psutil.Process(proc.info["ppid"]).name() != "postgres":  # the postmaster
                total += times.children_user + times.children_system
        except psutil.Error:
            continue
    return total


def ca_of(data_dir: Path) -> Path:
    return data_dir / "tls-cert.pem"
