"""The SMS provider's HTTP API, as the CRM's tasks call it.

Every answer becomes a result or one exception the task's options know what to do with:

- 201: :class:`Accepted` (a replayed ``Idempotency-Key`` gets the first answer back);
- 429 + ``Retry-After``: :class:`stalwart.RetryAfter` (a deferral: no retry used, and
  the sender's whole scope waits);
- 5xx, a timeout, a refused connection: :class:`ProviderUnavailable` (retried by the
  task's RetryPolicy, counted by the shared breaker);
- 400 ``invalid_number``: :class:`InvalidNumber` (the message is marked invalid);
- any other 4xx: :class:`ProviderRejected` (our bug: no retry, straight to the
  dead-letter store).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from stalwart import RetryAfter
from stalwart.demo.config import CrmConfig

__all__ = [
    "Accepted",
    "InvalidNumber",
    "ProviderClient",
    "ProviderRejected",
    "ProviderUnavailable",
    "provider_for",
]


class ProviderUnavailable(Exception):
    """The provider did not answer usefully (5xx, timeout, connection refused)."""


class InvalidNumber(Exception):
    """The provider refused the destination number (HTTP 400 invalid_number)."""


class ProviderRejected(Exception):
    """The provider refused the request itself (a 4xx other than 400/429)."""


@dataclass(frozen=True)
class Accepted:
    provider_id: str
    status: str


class ProviderClient:
    """One HTTP connection pool to the provider (per process)."""

    def __init__(self, config: CrmConfig) -> None:
        self._http = httpx.Client(
            base_url=config.provider_url,
            timeout=config.provider_timeout,
            headers={"Authorization": f"Bearer {config.provider_key}"},
        )

    def send(self, sender: str, to: str, body: str, reference: str) -> Accepted:
        """Send one SMS; ``reference`` is also the ``Idempotency-Key``."""
        payload = {"from": sender, "to": to, "body": body, "reference": reference}
        answer = self._call("POST", "/v1/messages", payload, {"Idempotency-Key": reference})
        if answer.status_code in (200, 201):
            data = answer.json()
            return Accepted(str(data["id"]), str(data.get("status", "accepted")))
        if answer.status_code == 400 and _error(answer) == "invalid_number":
            raise InvalidNumber(f"provider: {to} is not a reachable mobile number")
        raise ProviderRejected(f"provider answered {answer.status_code}: {answer.text[:200]}")

    def statuses(self, provider_ids: list[str]) -> dict[str, str]:
        """The provider's current status of each message (for the periodic sync)."""
        answer = self._call("POST", "/v1/messages/status", {"ids": provider_ids}, {})
        if answer.status_code != 200:
            raise ProviderRejected(f"provider answered {answer.status_code}: {answer.text[:200]}")
        return {str(k): str(v) for k, v in answer.json()["statuses"].items()}

    def _call(
        self, method: str, path: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        try:
            answer = self._http.request(method, path, json=payload, headers=headers)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"provider timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"provider unreachable: {exc}") from exc
        if answer.status_code == 429:
            raise RetryAfter(_retry_after(answer), reason="provider 429")
        if answer.status_code >= 500:
            code = _error(answer)
            raise ProviderUnavailable(
                f"provider answered {answer.status_code}" + (f" ({code})" if code else "")
            )
        return answer


def _error(answer: httpx.Response) -> str | None:
    try:
        data = answer.json()
    except ValueError:
        return None
    return str(data.get("error")) if isinstance(data, dict) else None


def _retry_after(answer: httpx.Response) -> float:
    try:
        return max(0.0, float(answer.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


_clients: dict[int, ProviderClient] = {}


def provider_for(config: CrmConfig) -> ProviderClient:
    """This process's client (a prefork child builds its own, never its parent's)."""
    client = _clients.get(os.getpid())
    if client is None:
        client = _clients.setdefault(os.getpid(), ProviderClient(config))
    return client
