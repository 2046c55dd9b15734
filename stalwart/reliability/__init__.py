"""Reliable tasks: retry policy, poison cap, idempotency and progress.

- :mod:`~stalwart.reliability.retry` - :class:`RetryPolicy` (backoff, jitter, cap, hints);
- :mod:`~stalwart.reliability.failure` - what a failed execution becomes (retry or dead letter);
- :mod:`~stalwart.reliability.poison` - the delivery cap hook;
- :mod:`~stalwart.reliability.idempotency` - the idempotency hook;
- :mod:`~stalwart.reliability.progress` - ``self.progress()`` and ``app.progress()``.

The dead-letter store itself is :mod:`stalwart.deadletter`.
"""

from stalwart.reliability.progress import Progress
from stalwart.reliability.retry import RetryPolicy

__all__ = ["Progress", "RetryPolicy"]
