"""`kuaidan serve` as a real process: several workers over TLS, plain HTTP only redirects."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kuaidan.bench.spawn import free_port


def _wait_ready(url: str, ca: Path, proc: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited early"
        if ca.exists():
            try:
                return httpx.get(url, verify=ssl.create_default_context(cafile=str(ca)))
            except httpx.TransportError:
                pass
        time.sleep(0.3)
    raise AssertionError("the server did not become ready in 60 s")


def test_serve_with_two_workers_over_tls_and_an_http_redirect(tmp_path: Path) -> None:
    https_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "KUAIDAN_DATA_DIR": str(tmp_path),
        "KUAIDAN_HTTPS_PORT": str(https_port),
        "KUAIDAN_HTTP_PORT": str(http_port),
        "KUAIDAN_LOG_LEVEL": "warning",
    }
    env.pop("KUAIDAN_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "kuaidan", "db", "upgrade"], env=env, check=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kuaidan", "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        ready = _wait_ready(
            f"https://localhost:{https_port}/readyz", tmp_path / "tls-cert.pem", proc
        )
        assert ready.status_code == 200
        assert ready.json()["database"] == "ok"
        redirect = httpx.get(f"http://127.0.0.1:{http_port}/search?q=tee")
        assert redirect.status_code == 308
        assert redirect.headers["location"] == f"https://127.0.0.1:{https_port}/search?q=tee"
        assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
