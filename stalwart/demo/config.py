"""The CRM's own settings, read once from ``CRM_*`` variables when the app is built.

Stalwart's settings stay ``STALWART_*`` (broker, database...); these are the
application's: where the SMS provider is, the secrets shared with it, and the
calendar clock offset the demo uses to put "now" in New York business hours.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from stalwart.errors import SettingsError

__all__ = ["CrmConfig"]


@dataclass(frozen=True)
class CrmConfig:
    """Where the provider is and what the CRM shares with it."""

    provider_url: str = "http://127.0.0.1:8025"
    provider_key: str = "demo-provider-key"
    webhook_secret: str = "demo-webhook-secret"
    clock_offset: float = 0.0  # seconds added to the real clock for calendar decisions
    provider_timeout: float = 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CrmConfig:
        env = os.environ if environ is None else environ
        defaults = cls()
        try:
            offset = float(env.get("CRM_CLOCK_OFFSET", defaults.clock_offset))
            timeout = float(env.get("CRM_PROVIDER_TIMEOUT", defaults.provider_timeout))
        except ValueError as exc:
            raise SettingsError(f"CRM_CLOCK_OFFSET/CRM_PROVIDER_TIMEOUT: {exc}") from None
        url = env.get("CRM_PROVIDER_URL", defaults.provider_url)
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"CRM_PROVIDER_URL={url!r} is invalid: expected an http(s) URL")
        return cls(
            provider_url=url.rstrip("/"),
            provider_key=env.get("CRM_PROVIDER_KEY", defaults.provider_key),
            webhook_secret=env.get("CRM_WEBHOOK_SECRET", defaults.webhook_secret),
            clock_offset=offset,
            provider_timeout=timeout,
        )

    def as_env(self) -> dict[str, str]:
        """The variables that give a child process this configuration."""
        return {
            "CRM_PROVIDER_URL": self.provider_url,
            "CRM_PROVIDER_KEY": self.provider_key,
            "CRM_WEBHOOK_SECRET": self.webhook_secret,
            "CRM_CLOCK_OFFSET": repr(self.clock_offset),
            "CRM_PROVIDER_TIMEOUT": repr(self.provider_timeout),
        }
