"""Publishing many messages at once: ``task.delay_many(calls)`` / ``app.send_many(name, calls)``.

Each message is published exactly as ``.delay`` would publish it (Celery's
``send_task``: routing, the task's options, parents, the publish phases: idempotency
and unique headers, history's ``sent`` event, long countdowns to the delay store), but
a batch of them leaves in **one** pipelined round trip (kombu's ``Producer.batch()``),
without the per-message SUBSCRIBE of Celery's Redis result backend (``.get()`` still
works). A call that cannot be published (an argument that is not JSON) is reported for
that call and the others still go; if a batch cannot be sent at all (the broker went
away), every call of that batch is reported, and the publish phases give back what
they took (unique locks): nothing is silently dropped, nothing is half-recorded.

A call is a tuple of positional arguments, a mapping of keyword arguments, or a
:class:`Call` (arguments plus its own options, e.g. a ``task_id`` or ``countdown``)::

    result = send_sms.delay_many([(campaign, contact.id, contact.phone) for contact in todo])
    if result.errors:
        log.error("not sent: %s", result.errors)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kombu.exceptions import OperationalError

from stalwart.compat.backend import no_result_subscriptions
from stalwart.errors import StalwartError

if TYPE_CHECKING:
    from celery.result import AsyncResult

    from stalwart.app import Stalwart

__all__ = ["BulkResult", "Call", "send_many"]

DEFAULT_BATCH = 500
REPR_LIMIT = 1024  # Celery's argsrepr_maxsize default


@dataclass(frozen=True)
class Call:
    """One call of a bulk publish: its arguments and, optionally, options of its own."""

    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class BulkResult:
    """What became of each call, in order: an ``AsyncResult``, or the error that kept it."""

    results: list[AsyncResult | None]
    errors: dict[int, BaseException]

    @property
    def sent(self) -> int:
        return len(self.results) - len(self.errors)

    def __repr__(self) -> str:
        summary = f"<BulkResult: {self.sent} of {len(self.results)} sent"
        if self.errors:
            first = min(self.errors)
            summary += f", first error #{first}: {self.errors[first]!r}"
        return summary + ">"

    def raise_for_errors(self) -> None:
        """Raise a :class:`~stalwart.errors.StalwartError` naming the calls not sent."""
        if self.errors:
            shown = "; ".join(f"#{i}: {exc!r}" for i, exc in list(self.errors.items())[:5])
            raise StalwartError(
                f"{len(self.errors)} of {len(self.results)} calls not sent: {shown}"
            )


def as_call(value: Any) -> Call:
    """A :class:`Call` from a tuple of arguments, a mapping of keyword arguments, or a Call."""
    if isinstance(value, Call):
        return value
    if isinstance(value, Mapping):
        return Call((), dict(value))
    if isinstance(value, list | tuple):
        return Call(tuple(value))
    raise TypeError(
        f"a call is a tuple of arguments, a dict of keyword arguments or a Call, not {value!r}"
    )


def send_many(
    app: Stalwart,
    name: str,
    calls: Iterable[Any],
    *,
    batch_size: int = DEFAULT_BATCH,
    **options: Any,
) -> BulkResult:
    """Publish ``name`` once per call, ``batch_size`` messages per round trip."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    outcome = BulkResult(results=[], errors={})
    lost: BaseException | None = None
    with app.producer_or_acquire() as producer, no_result_subscriptions():
        for chunk in _chunks(calls, batch_size):
            if lost is None:
                lost = _send_chunk(app, producer, name, chunk, options, outcome)
            else:  # the broker is unreachable: report the rest without retrying each
                first = len(outcome.results)
                outcome.results.extend([None] * len(chunk))
                outcome.errors.update({first + i: lost for i in range(len(chunk))})
    return outcome


def _chunks(calls: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(calls)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _send_chunk(
    app: Stalwart,
    producer: Any,
    name: str,
    chunk: list[Any],
    options: Mapping[str, Any],
    outcome: BulkResult,
) -> BaseException | None:
    """Send one batch; returns the connection error that stopped it, if one did."""
    first = len(outcome.results)
    outcome.results.extend([None] * len(chunk))
    sent: list[tuple[int, AsyncResult]] = []
    declared = False
    lost: BaseException | None = None
    try:
        # Settled (after_publish / publish_failed) only once the batch is sent or lost;
        # kombu buffers every command of the chunk and sends them on leaving the block.
        with app.publisher.deferring(), producer.batch(max_size=10 * len(chunk) + 10):
            for offset, value in enumerate(chunk):
                index = first + offset
                if lost is not None:
                    outcome.errors[index] = lost
                    continue
                try:
                    call = as_call(value)
                    own = {**options, **call.options}
                    own.setdefault("argsrepr", repr(tuple(call.args))[:REPR_LIMIT])
                    own.setdefault("kwargsrepr", repr(dict(call.kwargs))[:REPR_LIMIT])
                    if declared:
                        own.setdefault("declare", [])  # the queue was declared once already
                    result = app.send_task(name, call.args, call.kwargs, producer=producer, **own)
                except Exception as exc:
                    outcome.errors[index] = exc
                    if _connection_lost(producer, exc):
                        lost = exc  # after the publish retries: do not wait again per call
                    continue
                declared = True
                sent.append((index, result))
    except Exception as exc:  # the batch itself was not sent: none of its messages was
        for index, _ in sent:
            outcome.errors[index] = exc
        return exc if _connection_lost(producer, exc) else None
    for index, result in sent:
        outcome.results[index] = result
    return lost


def _connection_lost(producer: Any, exc: BaseException) -> bool:
    """True for an error of the broker connection itself (not of one message)."""
    errors = (*producer.connection.connection_errors, OperationalError)
    return isinstance(exc, errors) or isinstance(exc.__cause__, errors)
