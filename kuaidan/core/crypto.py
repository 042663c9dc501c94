"""Encryption of personal data at rest (AES-256-GCM, versioned keys) and blind indexes.

A ciphertext is ``<key id>$<base64url(nonce || ciphertext+tag)>``. The key id lets old rows
stay readable after a new key becomes active. A blind index is a keyed HMAC-SHA256 of the
normalised value: equal inputs give equal indexes, so a phone can be looked up without
storing it in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class DecryptionError(ValueError):
    """The ciphertext is damaged, or was made with a key this keyring does not hold."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    active_id: str
    index_key: bytes

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise ValueError("the active key id is not in the keyring")
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise ValueError(f"data key {key_id!r} must be 32 bytes (AES-256)")
            if "$" in key_id:
                raise ValueError("a key id may not contain '$'")
        if len(self.index_key) < 32:
            raise ValueError("the blind-index key must be at least 32 bytes")


class Cipher:
    """Encrypts and decrypts text fields; computes blind indexes."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._aead = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    @property
    def active_key_id(self) -> str:
        return self._keyring.active_id

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        """Encrypt ``plaintext``; ``context`` (e.g. the column name) is bound as associated data."""
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._keyring.active_id
        sealed = self._aead[key_id].encrypt(nonce, plaintext.encode(), _aad(key_id, context))
        return f"{key_id}${base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: str = "") -> str:
        key_id, sep, body = token.partition("$")
        if not sep or key_id not in self._aead:
            raise DecryptionError("unknown key id")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain = self._aead[key_id].decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(key_id, context)
            )
        except Exception as exc:  # InvalidTag, binascii.Error: both mean "not ours"
            raise DecryptionError("ciphertext does not verify") from exc
        return plain.decode()

    def encrypt_optional(self, plaintext: str | None, *, context: str = "") -> str | None:
        return None if plaintext is None else self.encrypt(plaintext, context=context)

    def decrypt_optional(self, token: str | None, *, context: str = "") -> str | None:
        return None if token is None else self.decrypt(token, context=context)

    def blind_index(self, value: str, *, context: str) -> str:
        """Deterministic keyed digest for equality lookups; ``context`` separates fields."""
        mac = hmac.new(self._keyring.index_key, digestmod=hashlib.sha256)
        mac.update(context.encode() + b"\x00" + value.encode())
        return mac.hexdigest()

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(self._keyring.active_id + "$")


def _aad(key_id: str, context: str) -> bytes:
    return f"kuaidan:{key_id}:{context}".encode()


def normalise_phone(phone: str) -> str:
    """Digits only, with a leading '+' kept; '+86 138-0013-8000' → '+8613800138000'."""
    stripped = phone.strip()
    digits = "".join(ch for ch in stripped if ch.isdigit())
    if not 5 <= len(digits) <= 15:
        raise ValueError("a phone number has 5 to 15 digits")
    return ("+" if stripped.startswith("+") else "") + digits
