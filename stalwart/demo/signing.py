"""Webhook signatures: HMAC-SHA256 over ``timestamp.body`` with a shared secret.

The provider sends ``X-Signature-Timestamp: <unix seconds>`` and
``X-Signature: v1=<hex digest>``. A signature is valid if it matches (compared in
constant time) and the timestamp is within five minutes of our clock, so a captured
request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "SignatureError",
    "sign",
    "signed_headers",
    "verify",
]

TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_HEADER = "X-Signature"
TOLERANCE = 300.0  # seconds: the replay window


class SignatureError(Exception):
    """The request is not signed by the provider (why, for the 401's detail)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that sign ``body`` (what the provider sends)."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None
) -> None:
    """Raise :class:`SignatureError` unless ``signature`` signs ``body`` at a fresh time."""
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be unix seconds")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > TOLERANCE:
        raise SignatureError(f"timestamp is {age:+.0f}s away from now (window: {TOLERANCE:.0f}s)")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise SignatureError("signature does not match")
