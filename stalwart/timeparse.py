"""``--since`` values shared by every listing (tasks, dead letters): "30m" ago or an ISO time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from stalwart.errors import QueryError

__all__ = ["parse_since"]

_AGO = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None, option: str = "--since") -> datetime:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"``, ``"1w"`` ago, or an ISO 8601 time (naive = UTC)."""
    now = now or datetime.now(UTC)
    match = _AGO.fullmatch(text)
    if match:
        return now - timedelta(**{_UNIT[match.group(2)]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(
            f"{option} {text!r}: expected a duration such as 30m, 6h, 2d or an ISO time "
            "such as 2024-05-01T09:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
