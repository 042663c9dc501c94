"""RSA2 parameter signing as Alipay does it, for both sides of a payment protocol.

The signed string takes every parameter except ``sign`` (and ``sign_type`` for notifications
and returns), drops empty values, sorts by key and joins ``k=v`` with ``&``; the signature is
RSA PKCS#1 v1.5 over SHA-256, in base64. Pure helpers: no I/O except the key files and
the TLS client context.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import ssl
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_TYPE = "RSA2"
# Requests from the merchant sign everything but ``sign``.
REQUEST_EXCLUDE: frozenset[str] = frozenset({"sign"})
# Notifications and browser returns from the provider also leave ``sign_type`` out.
NOTIFY_EXCLUDE: frozenset[str] = frozenset({"sign", "sign_type"})
KEY_BITS = 2048


def canonical_string(
    params: Mapping[str, Any], *, exclude: Collection[str] = REQUEST_EXCLUDE
) -> str:
    """``a=1&b=2``: keys sorted, ``exclude`` and empty values left out, nothing URL-encoded."""
    items = sorted(
        (key, str(value))
        for key, value in params.items()
        if key not in exclude and value is not None and str(value) != ""
    )
    return "&".join(f"{key}={value}" for key, value in items)


def canonical_json(value: Mapping[str, Any]) -> str:
    """A JSON text that both sides produce identically: sorted keys, no spaces, raw unicode."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=16)
def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("an RSA private key is needed for RSA2 signatures")
    return key


@lru_cache(maxsize=16)
def _public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("an RSA public key is needed for RSA2 signatures")
    return key


def _pem(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign_bytes(data: bytes, private_key_pem: str | bytes) -> str:
    """Base64 of the RSA PKCS#1 v1.5 / SHA-256 signature of ``data``."""
    signature = _private_key(_pem(private_key_pem)).sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_bytes(data: bytes, signature_b64: str | None, public_key_pem: str | bytes) -> bool:
    """True when ``signature_b64`` is a valid signature of ``data``; False for anything else."""
    if not signature_b64:
        return False
    try:
        signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
        _public_key(_pem(public_key_pem)).verify(
            signature, data, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, binascii.Error, UnicodeEncodeError, ValueError):
        return False
    return True


def sign_params(
    params: Mapping[str, Any],
    private_key_pem: str | bytes,
    *,
    exclude: Collection[str] = REQUEST_EXCLUDE,
) -> str:
    """The ``sign`` value for ``params``."""
    return sign_bytes(canonical_string(params, exclude=exclude).encode("utf-8"), private_key_pem)


def verify_params(
    params: Mapping[str, Any],
    public_key_pem: str | bytes,
    *,
    exclude: Collection[str] = REQUEST_EXCLUDE,
) -> bool:
    """True when ``params["sign"]`` signs the other parameters; False when missing or wrong."""
    signature = params.get("sign")
    if not isinstance(signature, str):
        return False
    data = canonical_string(params, exclude=exclude).encode("utf-8")
    return verify_bytes(data, signature, public_key_pem)


def generate_key_pair(private_path: Path, public_path: Path) -> None:
    """A new RSA key pair: the private key written with mode 0600 from the first byte."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = private_path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    tmp.replace(private_path)
    public_path.write_bytes(public_pem)


def ensure_key_pair(private_path: Path, public_path: Path) -> None:
    """Generate the key pair once; an existing pair is kept (its public half rewritten if lost)."""
    if private_path.exists():
        if not public_path.exists():
            key = _private_key(private_path.read_bytes())
            public_path.write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return
    generate_key_pair(private_path, public_path)


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying TLS client context: trust ``ca_file`` when it exists, else the system store."""
    if ca_file is not None and ca_file.exists():
        return ssl.create_default_context(cafile=str(ca_file))
    return ssl.create_default_context()


# --- the protocol's clock format, shared by both sides ---------------------------------------

PROTOCOL_ZONE = ZoneInfo("Asia/Shanghai")
PROTOCOL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_protocol_time(value: datetime) -> str:
    """``2026-11-11 08:00:00`` in Beijing time, as the provider writes times."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return value.astimezone(PROTOCOL_ZONE).strftime(PROTOCOL_TIME_FORMAT)


def parse_protocol_time(text: str) -> datetime:
    """The provider's Beijing-time text back to an aware UTC datetime."""
    local = datetime.strptime(text, PROTOCOL_TIME_FORMAT).replace(tzinfo=PROTOCOL_ZONE)
    return local.astimezone(UTC)
