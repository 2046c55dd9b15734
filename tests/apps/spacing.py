"""The "add a guarantee" example of docs/ARCHITECTURE.md, exactly as written there:
a new limit (``spacing``) is one class, registered with one line."""

from __future__ import annotations

from typing import Any, ClassVar

from stalwart import Stalwart, TaskOption, TaskOptionError
from stalwart.limits import LIMITS
from stalwart.limits.base import Admission, Limit, Value
from stalwart.limits.keys import scoped
from stalwart.middleware.base import OptionTarget
from stalwart.middleware.flow import FlowControl, admitted_at


def _seconds(value: Any, target: OptionTarget) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise TaskOptionError(f"spacing must be a number of seconds > 0, not {value!r}")
    return float(value)


SPACING: TaskOption[float | None] = TaskOption(
    "spacing", parse=_seconds, default=None, doc="At least this many seconds between starts."
)


class SpacingLimit(Limit):
    """Starts of a scope at least ``spacing`` seconds apart, cluster-wide."""

    kind = "spacing"
    option = SPACING
    value: float

    KEYS: ClassVar[tuple[str, ...]] = ("last",)
    CHECK_ARGS: ClassVar[tuple[str, ...]] = ("gap",)
    CHECK_LUA = """
local sp_gap = tonumber(A.gap)
local sp_last = tonumber(redis.call('GET', K.last) or '0')
if now - sp_last < sp_gap then deny('spacing', sp_last + sp_gap - now) end
"""
    TAKE_LUA = """
redis.call('SET', K.last, tostring(now), 'PX', math.ceil(sp_gap * 1000) + 1000)
"""

    def keys(self, admission: Admission) -> dict[str, str]:
        return {"last": scoped("spacing", admission.scope)}

    def check_args(self, admission: Admission) -> dict[str, Value]:
        return {"gap": self.value}

    def describe(self) -> float:
        return self.value


app = Stalwart("spacing")
app.replace_middleware("flow", FlowControl(limits=(*LIMITS, SpacingLimit)))  # the one line


@app.task(bind=True, spacing=0.5)
def spaced(self: Any, n: int) -> float | None:
    at = admitted_at(self)
    app.redis.rpush("spaced:admitted", repr(at))
    return at
