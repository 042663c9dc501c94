"""Who may scrape the metrics: pure rules over the client's address and its credentials."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable


def may_scrape(
    *,
    client_ip: str | None,
    authorization: str,
    allow_networks: Iterable[str],
    token: str | None,
) -> bool:
    """True for a client inside one of ``allow_networks``, or one presenting ``token`` as a
    bearer token (compared in constant time). An unknown or unparsable address is outside."""
    if token:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return True
    if not client_ip:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allow_networks)
