"""The middleware pipeline: the one extension point every guarantee is built from.

- :mod:`.base` - :class:`Middleware` (the phases) and :class:`TaskOption`;
- :mod:`.call` - :class:`Execution` and :class:`Publication`, what the phases receive;
- :mod:`.controls` - ending an execution early, and its :class:`Outcome`;
- :mod:`.pipeline` - the ordered list of an app's middleware and their options;
- :mod:`.driver` / :mod:`.publishing` - running the phases in a worker / a producer;
- :mod:`.outcomes` - carrying out an outcome (republish, dead letter);
- :mod:`.riders` - riding Stalwart's writes in Celery's state writes;
- the built-in guarantees: :mod:`.poison`, :mod:`.idempotency`, :mod:`.flow`,
  :mod:`.unique`, :mod:`.retries`, :mod:`.recording`.

See docs/ARCHITECTURE.md for how a task's data flows through it.
"""

from __future__ import annotations

from stalwart.middleware.base import Middleware, OptionTarget, TaskOption
from stalwart.middleware.call import Execution, Publication
from stalwart.middleware.controls import (
    Deferred,
    EndExecution,
    GiveUp,
    Outcome,
    OutcomeKind,
    ReturnResult,
)

__all__ = [
    "Deferred",
    "EndExecution",
    "Execution",
    "GiveUp",
    "Middleware",
    "OptionTarget",
    "Outcome",
    "OutcomeKind",
    "Publication",
    "ReturnResult",
    "TaskOption",
]
