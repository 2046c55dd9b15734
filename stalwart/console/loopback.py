"""Which names are this machine: the console without authentication listens on loopback
only (:func:`stalwart.console.server.check_bind`) and answers only to requests that name
a loopback host, so that a web page whose DNS name is rebound to 127.0.0.1 cannot drive
it from a browser (DNS rebinding)."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback", "is_loopback_host_header"]


def is_loopback(host: str) -> bool:
    """``localhost``, a ``*.localhost`` name (RFC 6761), or a loopback IP address."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_host_header(value: str) -> bool:
    """Whether an HTTP ``Host`` header (``name``, ``name:port``, ``[v6]:port``) names
    this machine. An absent header (HTTP/1.0, not a browser) passes."""
    if not value:
        return True
    if value.startswith("["):
        return is_loopback(value[: value.find("]") + 1])
    name, _, _port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return is_loopback(name)
