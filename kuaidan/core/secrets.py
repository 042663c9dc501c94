"""Secrets generated into the data dir on first run (mode 0600), never printed or logged."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from kuaidan.core.crypto import Keyring

SECRETS_FILE = "secrets.json"


@dataclass(frozen=True)
class Secrets:
    session_key: str
    keyring: Keyring

    def __repr__(self) -> str:  # never leak key material into logs or tracebacks
        return f"Secrets(active_key={self.keyring.active_id!r}, keys={len(self.keyring.keys)})"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def load_or_create_secrets(data_dir: Path) -> Secrets:
    """Read ``secrets.json`` from the data dir, creating it (0600) if it does not exist."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRETS_FILE
    if not path.exists():
        _write_new(path)
    raw = json.loads(path.read_text())
    keyring = Keyring(
        keys={key_id: _unb64(key) for key_id, key in raw["data_keys"].items()},
        active_id=raw["active_data_key"],
        index_key=_unb64(raw["index_key"]),
    )
    return Secrets(session_key=raw["session_key"], keyring=keyring)


def rotate_data_key(data_dir: Path) -> str:
    """Add a new data-encryption key and make it active; old keys stay for reading."""
    path = data_dir / SECRETS_FILE
    raw = json.loads(path.read_text())
    key_id = f"k{len(raw['data_keys']) + 1}"
    raw["data_keys"][key_id] = _b64(secrets.token_bytes(32))
    raw["active_data_key"] = key_id
    _write_private(path, json.dumps(raw, indent=2))
    return key_id


def _write_new(path: Path) -> None:
    content = {
        "session_key": secrets.token_urlsafe(48),
        "data_keys": {"k1": _b64(secrets.token_bytes(32))},
        "active_data_key": "k1",
        "index_key": _b64(secrets.token_bytes(32)),
    }
    _write_private(path, json.dumps(content, indent=2))


def _write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 from the first byte (no window where others can read)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    path.chmod(0o600)
