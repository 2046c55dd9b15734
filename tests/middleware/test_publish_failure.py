"""A publish that fails (an argument that isn't JSON) leaves no trace but the error: no
``sent`` event (no phantom "queued" task in history) and no unique lock held."""

from __future__ import annotations

import pytest
import redis
from kombu.exceptions import EncodeError

from stalwart import Stalwart
from stalwart.events import EVENT_STREAM, decode_entry
from stalwart.limits.unique import unique_digest
from stalwart.settings import Settings


def test_a_failed_publish_leaves_no_event_and_no_lock(
    settings: Settings, redis_client: redis.Redis
) -> None:
    app = Stalwart("publisher", settings=settings)

    @app.task(shared=False, name="pub.only_one", unique=True)
    def only_one(thing: object) -> None: ...

    not_json = object()
    with pytest.raises(EncodeError):
        only_one.apply_async((not_json,), task_id="never-sent")
    assert not redis_client.exists(unique_digest(only_one, (not_json,), {}))

    sent = only_one.apply_async(("json",), task_id="sent-once")
    assert redis_client.get(unique_digest(only_one, ("json",), {})) == b"sent-once"
    app.task_events.flush()
    ids = [e.task_id for _, raw in redis_client.xrange(EVENT_STREAM) for _, e in decode_entry(raw)]
    assert ids == [sent.id]
