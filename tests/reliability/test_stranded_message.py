"""A message taken off its queue just as the broker connection drops is not lost.

kombu pops a message (``BRPOP``) and records its unacknowledged copy in a second round
trip. The fault is injected exactly there: the unacked write fails with a connection
error, as it does when the broker restarts between the two. The message must come back
on its queue when the worker reconnects — and only once, if the copy did get written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Message, Producer, Queue
from kombu.transport import redis as kombu_redis

from stalwart.compat import transport

QUEUE = Queue("stranded-test", Exchange("stranded-test"), "stranded-test")


@pytest.fixture
def connect(redis_url: str, redis_client: redis.Redis) -> Iterator[Any]:
    redis_client.delete("stranded-test", "unacked", "unacked_index")
    opened: list[Connection] = []

    def open_connection() -> Connection:
        connection = Connection(redis_url, transport=transport.Transport)
        opened.append(connection)
        return connection

    yield open_connection
    for connection in opened:
        connection.release()
    redis_client.delete("stranded-test", "unacked", "unacked_index")


def publish(connection: Connection, body: dict[str, int]) -> None:
    Producer(connection.default_channel).publish(
        body, exchange=QUEUE.exchange, routing_key="stranded-test", declare=[QUEUE]
    )


def receive(connection: Connection) -> list[dict[str, int]]:
    bodies: list[dict[str, int]] = []

    def on_message(body: dict[str, int], message: Message) -> None:
        bodies.append(body)
        message.ack()

    with Consumer(connection.default_channel, [QUEUE], callbacks=[on_message]):
        connection.drain_events(timeout=2)
    return bodies


def fail_unacked_write(monkeypatch: pytest.MonkeyPatch, written: bool) -> None:
    """The next unacked write fails with a connection error (after landing if ``written``)."""
    original = kombu_redis.QoS.append

    def append(self: Any, message: Any, delivery_tag: str) -> None:
        monkeypatch.setattr(kombu_redis.QoS, "append", original)
        if written:
            original(self, message, delivery_tag)
        raise redis.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(kombu_redis.QoS, "append", append)


def strand(
    connect: Any, monkeypatch: pytest.MonkeyPatch, body: dict[str, int], written: bool
) -> None:
    """Publish ``body`` and have the consumer's connection drop as it takes it."""
    first = connect()
    publish(first, body)
    fail_unacked_write(monkeypatch, written=written)
    with pytest.raises(redis.ConnectionError):
        receive(first)


def test_message_popped_when_connection_drops_is_put_back(
    connect: Any, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    strand(connect, monkeypatch, {"n": 1}, written=False)
    assert redis_client.llen("stranded-test") == 0  # popped, and nowhere in Redis
    assert redis_client.hlen("unacked") == 0

    assert receive(connect()) == [{"n": 1}]  # the reconnecting worker gets it back
    assert redis_client.llen("stranded-test") == 0


def test_message_whose_unacked_copy_landed_is_not_doubled(
    connect: Any, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    strand(connect, monkeypatch, {"n": 2}, written=True)
    assert redis_client.hlen("unacked") == 1  # the visibility timeout will restore it

    second = connect()
    second.default_channel  # noqa: B018 - opening the channel runs the restore
    assert redis_client.llen("stranded-test") == 0
    assert redis_client.hlen("unacked") == 1
