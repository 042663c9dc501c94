"""Sends one signed webhook over HTTPS to a merchant's receiver."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx


class WebhookSendError(RuntimeError):
    """The receiver could not be reached or did not answer 2xx; the worker retries."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class HttpWebhookSender:
    def __init__(self, *, timeout_s: float, extra_ca_file: Path | None = None) -> None:
        self.timeout_s = timeout_s
        self.verify: ssl.SSLContext = ssl.create_default_context()
        if extra_ca_file is not None:
            self.verify.load_verify_locations(cafile=str(extra_ca_file))

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST ``body``; returns the status code, raises WebhookSendError unless 2xx."""
        try:
            async with httpx.AsyncClient(
                verify=self.verify, timeout=self.timeout_s, follow_redirects=False
            ) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise WebhookSendError(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise WebhookSendError(
                f"receiver answered {response.status_code}", status_code=response.status_code
            )
        return response.status_code
