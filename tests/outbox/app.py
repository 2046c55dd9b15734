"""Tasks of the outbox tests. ``register(app)`` builds them on any app, so a test process
can enqueue them with its own settings while the worker imports ``tests.outbox.app:app``."""

from __future__ import annotations

import time
from types import SimpleNamespace

import sqlalchemy as sa

from stalwart import Stalwart

orders = sa.Table(
    "test_orders",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False),
)


def runs_key(key: str) -> str:
    return f"test:outbox:runs:{key}"


def register(app: Stalwart) -> SimpleNamespace:
    @app.task(shared=False, name="outbox_tests.note")
    def note(key: str, seconds: float = 0.0) -> str:
        app.redis.incr(runs_key(key))
        time.sleep(seconds)  # long enough, duplicate copies overlap on a pool
        return key

    @app.task(shared=False, name="outbox_tests.keyed", idempotency_key="keyed:{key}")
    def keyed(key: str) -> str:
        app.redis.incr(runs_key(key))
        return key

    return SimpleNamespace(note=note, keyed=keyed)


app = Stalwart("outboxtests")
tasks = register(app)
