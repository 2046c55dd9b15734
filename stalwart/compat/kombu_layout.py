"""kombu's Redis key layout, read from kombu's own ``Channel`` class (kombu 5.7).

A queue ``q`` is one Redis list per priority step (``q``, ``q\\x06\\x163``, ...; BRPOP
takes priority 0 first and consumes from the tail), bindings live in
``_kombu.binding.<exchange>`` sets, and unacknowledged messages in the ``unacked``
hash. The history's queue probe and "where is my task" read those keys; the functions
here compute them with kombu's own attributes and methods, so a change in kombu shows
up here and nowhere else. (``global_keyprefix`` is not supported.)
"""

from __future__ import annotations

from kombu.transport.redis import Channel

__all__ = [
    "BINDING_PATTERN",
    "SEP",
    "UNACKED_KEY",
    "binding_queue",
    "consumption_order",
    "list_for",
]

SEP: str = Channel.sep
UNACKED_KEY: str = Channel.unacked_key
BINDING_PATTERN: str = Channel.keyprefix_queue % "*"


class _Layout:
    """Just what kombu's ``Channel._q_for_pri`` needs, taken from kombu's class."""

    sep = Channel.sep
    priority_steps = Channel.priority_steps
    priority = Channel.priority
    _q_for_pri = Channel._q_for_pri


_LAYOUT = _Layout()


def list_for(queue: str, priority: int) -> str:
    """The Redis list kombu pushes a message of ``priority`` to."""
    return str(_LAYOUT._q_for_pri(queue, priority))  # type: ignore[misc, no-untyped-call]


def consumption_order(queue: str) -> list[str]:
    """The lists of ``queue`` in the order a worker empties them (priority 0 first)."""
    return [list_for(queue, step) for step in _LAYOUT.priority_steps]


def binding_queue(member: bytes | str) -> str | None:
    """The queue named by one member of a ``_kombu.binding.*`` set (None if not one)."""
    text = member.decode() if isinstance(member, bytes) else member
    parts = text.split(SEP)
    return parts[2] if len(parts) == 3 and parts[2] else None
