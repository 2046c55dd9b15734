"""Taking a message off its queue and recording it as held, in one step, for the
processes of a supervised worker.

kombu's Redis transport pops a message with ``BRPOP`` and records its unacknowledged
copy in a second round trip. Between the two the message exists only in the socket
between Redis and the worker process: a process SIGKILLed then loses it, neither
queued nor unacknowledged. In a prefork worker that is the parent, which nothing kills
but an operator; in ``stalwart worker`` every process consumes on its own and is the one
that the OOM killer or a ``kill -9`` hits (``tests/reliability/test_worker_sigkill.py``
lost 1 task in 1,000 in about one run of five under load this way). The wait for the
reply is not microseconds: a process woken by its socket on a busy machine may wait for
a core.

So a supervised process does not pop: it *claims*. A Lua script (``lua/claim.lua``)
takes the first message off its queue keys in kombu's order and, in the same atomic
step, writes kombu's unacknowledged copy and index entry and adds the tag to the
process's held set (:func:`stalwart.compat.transport.held_key`). Whatever then happens
to the process, the message is on its queue or recorded: the supervisor puts back what
a dead process held at once, the visibility timeout does for anyone else. The copy is
exactly kombu's (``[envelope, exchange, routing_key]``), so kombu's own restore and ack
read it; :class:`~stalwart.compat.transport.QoS` skips the write it would otherwise do.

A script cannot block, so an empty claim is followed by a wait that takes nothing:
``BLMOVE key key RIGHT RIGHT`` moves the last message of the first queue key to where
it was, which returns as soon as that key has a message (or after
:data:`WAIT_SECONDS`); then the process claims again. A message on another key (a
second queue, a priority level) is found by the next claim, within ``WAIT_SECONDS``
when the process was idle. One round trip per message when there is a backlog, two
after an idle wait.

Claiming needs Redis 6.2 (``BLMOVE``) and no ``global_keyprefix``; otherwise the process
consumes with kombu's ``BRPOP`` as any worker does.
"""

from __future__ import annotations

import logging
import re
import time
from queue import Empty
from typing import TYPE_CHECKING, Any

from kombu.utils.encoding import bytes_to_str
from redis.exceptions import NoScriptError

from stalwart.compat.undecodable import quarantine, read_envelope
from stalwart.lua import Lua

if TYPE_CHECKING:
    from stalwart.compat.transport import Channel

__all__ = ["CLAIM", "WAIT", "WAIT_SECONDS", "forget", "read", "script_for", "send"]

CLAIM = "EVALSHA"
WAIT = "BLMOVE"
#: The longest an idle process waits before it claims again (messages on the first key
#: wake it at once).
WAIT_SECONDS = 0.25
#: How long a process waits after Redis refused a claim (busy, read-only).
REFUSED_BACKOFF = 1.0

logger = logging.getLogger("stalwart.transport")


def script_for(channel: Channel) -> Lua | None:
    """The claim script this channel runs, loaded into Redis; None when it must pop
    (not a supervised process, a ``global_keyprefix``, Redis before 6.2)."""
    if channel.held_key is None or channel.global_keyprefix:
        return None
    try:
        with channel.conn_or_acquire() as client:
            version = str(client.info("server").get("redis_version", ""))
            found = re.match(r"(\d+)\.(\d+)", version)
            release = (int(found[1]), int(found[2])) if found else (0, 0)
            if release < (6, 2):
                return None
            script = _script(flagged=release >= (7, 0))
            client.script_load(script.text)
    except channel.ResponseError:  # INFO or SCRIPT renamed or refused by a managed service
        return None
    return script


def _script(flagged: bool) -> Lua:
    text = Lua.packaged("stalwart.compat", "claim").text
    # Out of memory (noeviction), the workers must go on draining the queues, and the
    # claim frees about what it writes. Redis 7 runs a script flagged allow-oom whole;
    # Redis 6.2 refuses only a script's first write, and a claim's first write is its
    # RPOP, which is never refused.
    return Lua(f"#!lua flags=allow-oom\n{text}") if flagged else Lua(text)


def send(channel: Channel) -> None:
    """Send this channel's next claim, or its wait after an empty claim."""
    if time.monotonic() < channel.claim_after:
        return  # backing off after a refusal; the event loop asks again
    queues = channel._queue_cycle.consume(len(channel.active_queues))
    if not queues:
        return
    keys = [
        channel._q_for_pri(queue, pri)  # type: ignore[no-untyped-call]
        for pri in channel.priority_steps
        for queue in queues
    ]
    connection = channel.client.connection
    if channel.claim_waits:
        wait = min(WAIT_SECONDS, float(channel.brpop_timeout or WAIT_SECONDS))
        command: list[Any] = [WAIT, keys[0], keys[0], "RIGHT", "RIGHT", wait]
    else:
        script, held = channel.claim_script, channel.held_key
        assert script is not None and held is not None
        command = [
            CLAIM,
            script.sha,
            3 + len(keys),
            channel.unacked_key,
            channel.unacked_index_key,
            held,
            *keys,
            time.time(),
        ]
    channel._in_poll = connection
    channel._brpop_sent_at = time.monotonic()  # type: ignore[assignment]
    connection.send_command(*command)


def read(channel: Channel, **options: Any) -> bool:
    """Read the reply of :func:`send`: deliver a claimed message, or raise ``Empty``."""
    command = WAIT if channel.claim_waits else CLAIM  # what send() sent
    try:
        try:
            reply = channel.client.parse_response(channel.client.connection, command, **options)
        except channel.connection_errors:
            # A claim whose reply is lost stays recorded: put back when this process
            # dies, or after the visibility timeout.
            channel.client.connection.disconnect()
            raise
        except channel.ResponseError as exc:
            _refused(channel, command, exc)
            raise Empty() from None
        if command == WAIT or not reply:
            channel.claim_waits = command == CLAIM
            if command == CLAIM:
                channel.connection.after_empty_brpop()
            raise Empty()
        channel.claim_waits = False
        key_name, item, tag = reply
        queue = bytes_to_str(key_name).rsplit(channel.sep, 1)[0]  # type: ignore[no-untyped-call]
        channel._queue_cycle.rotate(queue)
        _deliver(channel, queue, item, tag.decode() if tag else None)
        return True
    finally:
        channel._in_poll = None  # type: ignore[assignment]
        channel._flush_brpop_reauth()  # type: ignore[no-untyped-call]


def _refused(channel: Channel, command: str, exc: Exception) -> None:
    """Redis answered the claim or the wait with an error (a script still running, a
    replica after a failover): a script refused is refused whole, so nothing was taken.
    Back off a second; a server without the command makes the process pop."""
    if isinstance(exc, NoScriptError) and channel.claim_script is not None:
        # The script cache was emptied (SCRIPT FLUSH; a restart reconnects and loads it).
        with channel.conn_or_acquire() as client:
            client.script_load(channel.claim_script.text)
        return
    if "unknown command" in str(exc).lower():
        channel.claim_script = None
        logger.warning("Redis refused %s (%s); consuming with BRPOP", command, exc)
        return
    channel.claim_waits = False
    channel.claim_after = time.monotonic() + REFUSED_BACKOFF
    logger.warning("Redis refused %s (%s); trying again in %ss", command, exc, REFUSED_BACKOFF)


def _deliver(channel: Channel, queue: str, item: bytes, tag: str | None) -> None:
    try:
        payload = read_envelope(channel, item)
    except Exception as exc:
        with channel.conn_or_acquire() as client:
            quarantine(client, item, queue, exc)
        if tag is not None:
            forget(channel, tag)
        return
    channel.claimed_tag = tag
    try:
        channel.connection._deliver(payload, queue)
    except BaseException:
        channel.claimed_tag = None  # it stays recorded: put back, never lost
        raise
    if channel.claimed_tag is not None:
        # Taken without an acknowledgement to wait for (a no_ack consumer): the record
        # would only bring it back after the visibility timeout.
        channel.claimed_tag = None
        forget(channel, tag)  # type: ignore[arg-type]


def forget(channel: Channel, tag: str) -> None:
    """Remove the claim's record of ``tag`` (unacknowledged copy, index, held set)."""
    with channel.conn_or_acquire() as client:
        pipe = client.pipeline()
        channel.qos._remove_from_indices(tag, pipe)
        pipe.execute()
