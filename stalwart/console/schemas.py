"""Request bodies of the JSON API (validated by FastAPI; described in the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BulkIn", "LoginIn", "ScheduleIn"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_Body):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class BulkIn(_Body):
    """Replay or discard dead letters: by ``ids``, or by filter (``name``/``since``).

    With a filter, ``expected`` is how many the person saw in the preview: if the
    selection no longer has that many, nothing is done (409) and they look again.
    """

    action: Literal["replay", "discard"]
    ids: list[int] | None = Field(default=None, max_length=10_000)
    name: str | None = Field(default=None, max_length=255)
    since: str | None = Field(default=None, max_length=100)
    expected: int | None = Field(default=None, ge=0)
    include_replayed: bool = False  # discard: also those already replayed
    force: bool = False  # replay: also those already replayed


class ScheduleIn(_Body):
    """A schedule: exactly one of ``cron``, ``every`` (``30s``, ``5m``) or ``at`` (ISO)."""

    name: str = Field(min_length=1, max_length=200)
    task: str = Field(min_length=1, max_length=255)
    cron: str | None = Field(default=None, max_length=200)
    every: str | None = Field(default=None, max_length=50)
    at: str | None = Field(default=None, max_length=100)
    tz: str | None = Field(default=None, max_length=100)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = Field(default=None, max_length=200)
    priority: int | None = Field(default=None, ge=0, le=255)
    missed: Literal["skip", "run_once", "catch_up"] = "run_once"
    catch_up_max: int = Field(default=100, ge=1, le=100_000)
    paused: bool = False
