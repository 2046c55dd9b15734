"""Durable task history and "where is my task now".

- :mod:`~stalwart.history.signals`: the events only Celery's signals know (received,
  succeeded, failed, revoked); the rest come from the pipeline's recording
  (:mod:`stalwart.middleware.recording`), all through the event buffer.
- :mod:`~stalwart.history.recorder`: the consumer group that writes events into SQL
  (:mod:`~stalwart.history.writer`, idempotent); :mod:`~stalwart.history.lag` measures
  how far behind it is.
- :mod:`~stalwart.history.retention`: pruning after ``STALWART_HISTORY_DAYS``.
- :mod:`~stalwart.history.query`: the one query module (CLI and console).
- :mod:`~stalwart.history.whereis`: where a task is now, from live state.
- :mod:`~stalwart.history.brokers`: queue depth, age, position (Redis and AMQP brokers).
"""
