"""Durable task history and "where is my task now".

- :mod:`~stalwart.history.recording`: every lifecycle event of every task, appended to
  the event stream in batches (no round trip per task).
- :mod:`~stalwart.history.recorder`: the consumer group that writes events into SQL
  (:mod:`~stalwart.history.writer`, idempotent); :mod:`~stalwart.history.lag` measures
  how far behind it is.
- :mod:`~stalwart.history.retention`: pruning after ``STALWART_HISTORY_DAYS``.
- :mod:`~stalwart.history.query`: the one query module (CLI and console).
- :mod:`~stalwart.history.whereis`: where a task is now, from live state.
- :mod:`~stalwart.history.brokers`: queue depth, age, position (Redis and AMQP brokers).
"""
