"""kombu's Redis transport with six changes: one client per channel, supervised
processes that claim instead of popping, no message lost between the pop and its
unacknowledged copy, no message popped for a process that cannot read it, abandoned
messages restored under gevent too, and an unreadable message quarantined instead of
stopping the worker.

*One client per channel.* kombu's Redis channel builds a fresh ``redis.Redis`` around
its connection pool for every command it sends outside the consumer loop (the
unacked-copy write, the ack, publishing): ~7% of a Stalwart worker's busy time in a
profile of a no-op drain (``py-spy record`` of ``celery worker --pool solo``, see
docs/PERFORMANCE.md). The client is a thin, thread-safe wrapper over the pool, so one
per channel is enough.

*Stranded messages.* kombu takes a message off its queue with ``BRPOP`` and then, in a
second round trip, writes its unacknowledged copy (``unacked`` hash). If the broker
goes away between the two — a restart, a failover, a dropped connection — the message
exists only in the worker's memory, and kombu drops it with the failed connection
(``tests/reliability/test_broker_restart.py`` lost 1 task in 520 this way). Here the
channel keeps such a message in the process, and the next channel it opens (the
worker reconnects) puts it back on its queue unless its unacknowledged copy did reach
the broker (then the visibility timeout restores it, as for any unacknowledged
message). A process of ``stalwart worker`` claims instead of popping
(:mod:`stalwart.compat.claim`): taking the message and recording it are one atomic step
there, so it has no such window, not even for a SIGKILL.

*No pop while the reader is busy* (where a process pops rather than claims). kombu sends
each ``BRPOP`` ahead and reads its reply when the event loop next looks. A worker that
runs tasks on the loop's own thread (``--pool solo``, so every supervised process) runs
a task that was waiting for its ETA from the loop's timer, with a ``BRPOP`` outstanding:
a message arriving meanwhile is popped by Redis into a socket nobody reads until the
task ends, and if the process dies then (SIGKILL, OOM) the message is nowhere, neither
queued nor unacknowledged (``stalwart demo`` lost one send in three runs this way).
Before a task runs on the thread that polls, :func:`settle_polls` ends the outstanding
``BRPOP`` with ``CLIENT UNBLOCK``; a message it had already popped goes straight back to
the end of its queue that is read next. One round trip, only for tasks run from the
timer.

*Abandoned messages under gevent/eventlet.* A green pool's worker drains the broker
without an event loop, and kombu sweeps messages whose visibility timeout has passed
only when a poll ends with nothing to read; but the poll waits exactly as long as the
``BRPOP`` it waits on, whose empty reply always arrives first, so the sweep never ran
and a message left by a killed worker stayed unacknowledged until some worker restarted
(``tests/reliability/test_pools.py``, the poison task under gevent). Here an empty
``BRPOP`` reply sweeps too, at kombu's own pace (``unacked_restore_throttle``).

*Unreadable messages.* kombu decodes each popped envelope inside the worker's event
loop (``Channel._brpop_read``, kombu 5.7); one that is not a kombu envelope makes the
worker exit, again on every restart. Here each envelope is checked first and a bad one
is quarantined (:mod:`stalwart.compat.undecodable`); the worker consumes on.

:class:`stalwart.Stalwart` installs this transport through Celery's own extension
point, the app's ``amqp`` class (:class:`stalwart.compat.amqp.AMQP`), whose connections
resolve the ``redis``/``rediss`` schemes to :class:`Transport`. The connection keeps naming its
transport ``redis``, so ``Connection.info()``, ``as_uri()``, ``celery inspect stats``,
Flower and the worker banner see a Redis broker; the wire protocol, keys and message
format are kombu's, unchanged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual as kombu_virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps

from stalwart.compat import claim
from stalwart.compat.undecodable import quarantine, read_envelope
from stalwart.coordination import key
from stalwart.lua import Lua

__all__ = [
    "HOLDER_VARIABLE",
    "STRANDED",
    "Channel",
    "QoS",
    "Transport",
    "held_key",
    "settle_polls",
]

# Internal, not a setting (settings refuse unknown STALWART_* variables).
HOLDER_VARIABLE = "_STALWART_HOLDER"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Stranded:
    """A message taken off its queue whose unacknowledged copy may not exist."""

    payload: dict[str, Any]
    exchange: str
    routing_key: str
    delivery_tag: str


class _StrandedMessages:
    """The process's stranded messages, waiting for a working connection: messages
    popped as the connection dropped, and the unacknowledged messages of tasks the
    worker cancelled because it dropped (:mod:`stalwart.compat.request`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[_Stranded] = []
        self._cancelled: list[str] = []

    def keep_cancelled(self, delivery_tag: str) -> None:
        with self._lock:
            self._cancelled.append(delivery_tag)

    def keep(self, message: _Stranded) -> None:
        with self._lock:
            self._messages.append(message)
        logger.warning(
            "broker connection lost while recording message %s as unacknowledged; "
            "it will be put back on its queue when the connection returns",
            message.delivery_tag,
        )

    def restore(self, channel: Channel) -> None:
        """Put every stranded message back on its queue through ``channel``."""
        self._restore_cancelled(channel)
        with self._lock:
            pending, self._messages = self._messages, []
        for index, message in enumerate(pending):
            try:
                _restore_one(channel, message)
            except channel.connection_errors:
                with self._lock:
                    self._messages[:0] = pending[index:]
                return
        if pending:
            logger.warning("put %d stranded message(s) back on their queues", len(pending))

    def _restore_cancelled(self, channel: Channel) -> None:
        # kombu's restore_by_tag: one transaction that restores the unacknowledged copy
        # only if it is still there (not acknowledged, not restored by the sweep).
        with self._lock:
            tags, self._cancelled = self._cancelled, []
        for index, tag in enumerate(tags):
            try:
                channel.qos.restore_by_tag(tag)
            except channel.connection_errors:
                with self._lock:
                    self._cancelled[:0] = tags[index:]
                return
        if tags:
            logger.warning("put %d cancelled task(s) back on their queues", len(tags))


def _restore_one(channel: Channel, message: _Stranded) -> None:
    def transaction(pipe: Any) -> None:
        recorded = pipe.hexists(channel.unacked_key, message.delivery_tag)
        pipe.multi()
        if not recorded:
            channel._do_restore_message(
                message.payload, message.exchange, message.routing_key, pipe
            )  # type: ignore[no-untyped-call]

    with channel.conn_or_acquire() as client:
        client.transaction(transaction, channel.unacked_key)


STRANDED = _StrandedMessages()


class QoS(kombu_redis.QoS):
    """kombu's ack emulation, keeping a message whose unacked copy could not be written,
    and (in a supervised worker process) the set of delivery tags this process holds."""

    def append(self, message: Any, delivery_tag: str) -> None:
        if delivery_tag == self.channel.claimed_tag:
            # Recorded by the claim that took it off its queue (stalwart.compat.claim).
            self.channel.claimed_tag = None
            kombu_virtual.QoS.append(self, message, delivery_tag)  # type: ignore[no-untyped-call]
            return
        try:
            held = self.channel.held_key
            if held is None:
                super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
            else:
                self._append_held(message, delivery_tag, held)
        except self.channel.connection_errors:
            delivery = message.delivery_info
            STRANDED.keep(
                _Stranded(message._raw, delivery["exchange"], delivery["routing_key"], delivery_tag)
            )
            raise

    def _append_held(self, message: Any, delivery_tag: str, held: str) -> None:
        # kombu 5.7's QoS.append, with this process's held set in the same pipeline.
        delivery = message.delivery_info
        raw = [message._raw, delivery["exchange"], delivery["routing_key"]]
        entry = dumps(raw)  # type: ignore[no-untyped-call]
        with self.pipe_or_acquire() as pipe:
            pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()})
            pipe.hset(self.unacked_key, delivery_tag, entry)
            pipe.sadd(held, delivery_tag)
            pipe.execute()
        kombu_virtual.QoS.append(self, message, delivery_tag)  # type: ignore[no-untyped-call]

    def _remove_from_indices(self, delivery_tag: str, pipe: Any = None) -> Any:
        pipe = super()._remove_from_indices(delivery_tag, pipe)  # type: ignore[no-untyped-call]
        held = self.channel.held_key
        return pipe.srem(held, delivery_tag) if held is not None else pipe


def held_key(holder: str) -> str:
    """The set of delivery tags a supervised worker process ``holder`` holds."""
    return key("held", holder)


class Channel(kombu_redis.Channel):
    """A kombu Redis channel that reuses one synchronous client and restores stranded
    messages. While :attr:`recorder` is set (:func:`stalwart.compat.capture.recording`),
    its publish batches record commands instead of sending them."""

    QoS = QoS
    _sync_client: Any = None
    recorder: Any = None
    # The BRPOP sent and not answered yet, by which thread, on which connection id.
    _poll_outstanding = False
    _poll_thread = 0
    _poll_client: tuple[Any, int] | None = None  # (socket, CLIENT ID) of the BRPOP connection
    # Claiming (stalwart.compat.claim): the script (None: this channel pops); whether the
    # next command is the wait; the tag the last claim recorded, until QoS.append sees it;
    # the monotonic time before which no claim is sent (after Redis refused one).
    claim_script: Lua | None = None
    claim_waits = False
    claimed_tag: str | None = None
    claim_after = 0.0

    @property
    def supports_batch_publish(self) -> bool:
        # Recording must never fall back to an immediate (real) publish.
        return self.recorder is not None or bool(super().supports_batch_publish)

    def create_publish_batch(self, max_size: int) -> Any:
        if self.recorder is not None:
            return self.recorder
        return super().create_publish_batch(max_size)  # type: ignore[no-untyped-call]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set by stalwart.worker.supervisor for the worker processes it runs, so that it
        # can put back at once what a process held when it died.
        holder = os.environ.get(HOLDER_VARIABLE)
        self.held_key = held_key(holder) if holder else None
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # connects or raises
        STRANDED.restore(self)
        self.claim_script = claim.script_for(self)

    def _brpop_start(self, timeout: Any = None) -> None:
        if self.claim_script is not None:
            claim.send(self)  # nothing to settle: a claimed message is recorded
            return
        connection = self.client.connection
        if connection is not None and connection._sock is not None:
            self._note_client_id(connection)
        super()._brpop_start(timeout)  # type: ignore[no-untyped-call]
        if self._in_poll:
            self._poll_outstanding = True
            self._poll_thread = threading.get_ident()
            _POLLING.add(self)

    def _note_client_id(self, connection: Any) -> None:
        # Once per socket: the id CLIENT UNBLOCK needs (a reconnect makes a new one).
        if self._poll_client is not None and self._poll_client[0] is connection._sock:
            return
        connection.send_command("CLIENT", "ID")
        self._poll_client = (connection._sock, int(connection.read_response()))

    def settle_poll(self) -> None:
        """End this channel's outstanding BRPOP (see the module): unblocked, it answers
        at once; a message it had popped already is pushed back where BRPOP reads."""
        connection: Any = self._in_poll
        if not self._poll_outstanding or not connection or self._poll_client is None:
            return
        self._poll_outstanding = False
        _POLLING.discard(self)
        try:
            if self._poll_client[0] is connection._sock:
                with self.conn_or_acquire() as client:
                    client.client_unblock(self._poll_client[1])
            reply = self.client.parse_response(connection, "BRPOP")
        except self.connection_errors:
            connection.disconnect()  # the poller reconnects; nothing was popped for us
            return
        finally:
            self._in_poll = None  # type: ignore[assignment]
        if reply:
            key_name, item = reply
            with self.conn_or_acquire() as client:
                client.rpush(key_name, item)

    def _brpop_read(self, **options: Any) -> bool:
        if self.claim_script is not None:
            return claim.read(self, **options)
        # kombu 5.7's Channel._brpop_read, with the envelope checked before delivery.
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
                self._poll_outstanding = False
                _POLLING.discard(self)
            except self.connection_errors:
                # if there's a ConnectionError, disconnect so the next
                # iteration will reconnect automatically.
                self.client.connection.disconnect()
                raise
            if not dest__item:
                self.connection.after_empty_brpop()
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]  # type: ignore[no-untyped-call]
            self._queue_cycle.rotate(dest)
            try:
                payload = read_envelope(self, item)
            except Exception as exc:
                with self.conn_or_acquire() as client:
                    quarantine(client, item, dest, exc)
                return True
            self.connection._deliver(payload, dest)
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]
            self._flush_brpop_reauth()  # type: ignore[no-untyped-call]

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self._sync_client is None:
            self._sync_client = self._create_client()  # type: ignore[no-untyped-call]
        yield self._sync_client

    def _disconnect_pools(self) -> None:
        self._sync_client = None  # it wraps the pool being dropped (fork, close)
        super()._disconnect_pools()  # type: ignore[no-untyped-call]


# Channels with a BRPOP outstanding (usually one per process, or none). A forked child
# (a prefork pool process replaced while its parent polls) starts with none: the socket
# it inherited is its parent's, and reading it would take the parent's reply.
_POLLING: weakref.WeakSet[Channel] = weakref.WeakSet()
os.register_at_fork(after_in_child=_POLLING.clear)


def settle_polls() -> None:
    """Before a task runs on this thread: end the BRPOPs this thread sent and has not
    read (a solo worker's loop, paused while the task runs)."""
    if not _POLLING:
        return
    me = threading.get_ident()
    for channel in list(_POLLING):
        if channel._poll_thread == me:
            channel.settle_poll()


class Transport(kombu_redis.Transport):
    Channel = Channel
    in_event_loop = False

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        self.in_event_loop = True  # the loop's timer sweeps the unacknowledged messages
        super().register_with_event_loop(connection, loop)  # type: ignore[no-untyped-call]

    def after_empty_brpop(self) -> None:
        """Sweep the unacknowledged messages, as kombu means to after an empty poll."""
        if not self.in_event_loop:
            poller: kombu_redis.MultiChannelPoller = self.cycle  # type: ignore[assignment]
            poller.maybe_restore_messages()  # type: ignore[no-untyped-call]
