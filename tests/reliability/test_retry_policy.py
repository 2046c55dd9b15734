"""RetryPolicy: validation at decoration time, delays, hints (pure unit tests)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from stalwart import RetryPolicy, Stalwart, TaskOptionError
from stalwart.middleware.retries import Verdict, retry_after_hint
from stalwart.settings import Settings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"max_retries": 2.5}, "max_retries must be an int"),
        ({"backoff": 0.5}, "backoff must be a number >= 1.0"),
        ({"initial_delay": 10, "backoff_max": 5}, "initial_delay (10) is above backoff_max"),
        ({"retry_on": ("x",)}, "retry_on must be a tuple of exception classes"),
        ({"give_up_on": 3}, "give_up_on must be a tuple of exception classes"),
        ({"jitter": "yes"}, "jitter must be True or False"),
    ],
)
def test_invalid_policies_fail_at_construction(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TaskOptionError, match="RetryPolicy") as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_retry_option_must_be_a_policy(settings: Settings) -> None:
    app = Stalwart("t", settings=settings)
    with pytest.raises(TaskOptionError, match=r"retry must be a stalwart\.RetryPolicy"):

        @app.task(retry=3)
        def job() -> None: ...

    with pytest.raises(TaskOptionError, match=r"unknown task option 'retyr'.*did you mean 'retry'"):

        @app.task(retyr=RetryPolicy())
        def other() -> None: ...


def test_delays_grow_are_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=1, backoff=3, backoff_max=20, jitter=True)
    assert [policy.base_delay(n) for n in range(5)] == [1, 3, 9, 20, 20]
    assert policy.base_delay(10_000) == 20  # no overflow
    rng = random.Random(1)
    samples = [policy.delay(2, rng) for _ in range(500)]
    assert min(samples) >= 4.5 and max(samples) <= 9
    assert max(samples) - min(samples) > 3  # really jittered
    assert RetryPolicy(jitter=False).delay(1) == 2.0


def test_decide_give_up_retry_exhausted_and_hints() -> None:
    policy = RetryPolicy(max_retries=2, retry_on=(ConnectionError,), give_up_on=(ValueError,))
    assert policy.decide(ValueError(), 0).verdict is Verdict.GIVE_UP
    assert policy.decide(KeyError(), 0).verdict is Verdict.NOT_RETRYABLE
    assert policy.decide(ConnectionError(), 1).verdict is Verdict.RETRY
    assert policy.decide(ConnectionError(), 2).verdict is Verdict.EXHAUSTED

    class Throttled(ConnectionError):
        retry_after = 42

    assert policy.decide(Throttled(), 0).delay == 42.0  # Retry-After beats the backoff
    later = ConnectionError()
    later.retry_after = datetime.now(UTC) + timedelta(seconds=30)  # type: ignore[attr-defined]
    assert 28 < (retry_after_hint(later) or 0) <= 30
