"""Composing one task type's check, finish and refund scripts from its limits.

Each script is built once per task type from the fragments of just the limits it has
(a task with one throttle gets a throttle-only script), with every ``K.<name>`` and
``A.<name>`` of a fragment turned into that limit's ``KEYS[i]`` / ``ARGV[j]``. Per
execution, :class:`Scripts` turns the limits' named keys and arguments into the
positional lists the scripts take.

The check returns ``{admitted (1/0), reason, wait seconds, redis time}`` (numbers as
strings: Redis truncates Lua numbers to integers). Nothing is consumed unless every
limit admits; a denied execution is told the earliest time worth coming back. A limit
may also end the check early with ``{0, 'duplicate', owner, now}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stalwart.limits.base import Limit, Value
from stalwart.lua import Lua

__all__ = ["Scripts"]

_PLACEHOLDER = re.compile(r"\b([KA])\.([A-Za-z_]\w*)\b")

_PRELUDE = """local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local id = ARGV[1]
"""
_CHECK_PRELUDE = """local wait, reason = 0, ''
local function deny(why, seconds)
  if seconds < 0.001 then seconds = 0.001 end
  if seconds > wait then wait, reason = seconds, why end
end
"""


class Scripts:
    """The check/finish/refund scripts of one set of limits, and their key/arg layout."""

    def __init__(self, limits: Sequence[Limit]) -> None:
        self.limits = tuple(limits)
        self._keys = [(i, name) for i, limit in enumerate(self.limits) for name in limit.KEYS]
        key_index = {slot: n + 1 for n, slot in enumerate(self._keys)}
        self._layouts: dict[str, list[tuple[int, str]]] = {}
        parts: dict[str, list[str]] = {
            "check": [],
            "always": [],
            "take": [],
            "finish": [],
            "refund": [],
        }
        for phase, args_attr in (
            ("check", "CHECK_ARGS"),
            ("finish", "FINISH_ARGS"),
            ("refund", "REFUND_ARGS"),
        ):
            layout = [
                (i, name)
                for i, limit in enumerate(self.limits)
                for name in getattr(limit, args_attr)
            ]
            self._layouts[phase] = layout
            arg_index = {slot: n + 2 for n, slot in enumerate(layout)}  # ARGV[1] is the id
            for i, limit in enumerate(self.limits):
                fragments = {
                    "check": (
                        ("check", limit.CHECK_LUA),
                        ("always", limit.ALWAYS_LUA),
                        ("take", limit.TAKE_LUA),
                    ),
                    "finish": (("finish", limit.FINISH_LUA),),
                    "refund": (("refund", limit.REFUND_LUA),),
                }[phase]
                for part, text in fragments:
                    if text:
                        parts[part].append(_bind(text, i, limit, key_index, arg_index))
        check = (
            _PRELUDE
            + _CHECK_PRELUDE
            + "".join(parts["check"])
            + "".join(parts["always"])
            + "if wait > 0 then return {0, reason, tostring(wait), tostring(now)} end\n"
            + "".join(parts["take"])
            + "return {1, '', '0', tostring(now)}\n"
        )
        self.check = Lua(check)
        self.finish = (
            Lua(_PRELUDE + "".join(parts["finish"]) + "return 1\n") if parts["finish"] else None
        )
        self.refund = (
            Lua(_PRELUDE + "".join(parts["refund"]) + "return 1\n") if parts["refund"] else None
        )

    def key_list(self, per_limit: Sequence[Mapping[str, str]]) -> list[str]:
        return [per_limit[i][name] for i, name in self._keys]

    def arg_list(
        self, phase: str, task_id: str, per_limit: Sequence[Mapping[str, Value]]
    ) -> list[Value]:
        return [task_id, *(per_limit[i][name] for i, name in self._layouts[phase])]


def _bind(
    text: str,
    index: int,
    limit: Limit,
    key_index: Mapping[tuple[int, str], int],
    arg_index: Mapping[tuple[int, str], int],
) -> str:
    def replace(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        table: Mapping[tuple[int, str], int] = key_index if kind == "K" else arg_index
        slot = table.get((index, name))
        if slot is None:
            where = "KEYS" if kind == "K" else "arguments"
            raise ValueError(f"{type(limit).__name__}: {kind}.{name} is not one of its {where}")
        return f"{'KEYS' if kind == 'K' else 'ARGV'}[{slot}]"

    bound: Callable[[re.Match[str]], str] = replace
    return f"-- {limit.kind}\n" + _PLACEHOLDER.sub(bound, text).strip("\n") + "\n"


def as_lua_number(value: Any) -> str:
    """A float for a script argument, exactly (``repr``)."""
    return repr(float(value))
