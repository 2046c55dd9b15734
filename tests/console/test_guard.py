"""The login guard's arithmetic, on a clock the test moves."""

from __future__ import annotations

from stalwart.console.guard import LoginGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_pair_is_refused_after_its_limit_until_the_oldest_failure_ages_out() -> None:
    clock = Clock()
    guard = LoginGuard(limit=3, window=60.0, clock=clock)
    for _ in range(3):
        assert guard.retry_after("10.0.0.1", "ann") is None
        guard.failed("10.0.0.1", "ann")
        clock.now += 10
    assert guard.retry_after("10.0.0.1", "ann") == 30.0  # the first failure was at 1000
    assert guard.retry_after("10.0.0.2", "ann") is None  # another address
    assert guard.retry_after("10.0.0.1", "bob") is None  # another name
    clock.now += 30
    assert guard.retry_after("10.0.0.1", "ann") is None  # sliding: one failure aged out
    guard.failed("10.0.0.1", "ann")
    assert guard.retry_after("10.0.0.1", "ann") == 10.0


def test_a_success_clears_the_pair() -> None:
    clock = Clock()
    guard = LoginGuard(limit=2, window=60.0, clock=clock)
    guard.failed("a", "ann")
    guard.succeeded("a", "ann")
    guard.failed("a", "ann")
    assert guard.retry_after("a", "ann") is None


def test_memory_stays_bounded_under_a_flood_of_names() -> None:
    clock = Clock()
    guard = LoginGuard(limit=2, window=60.0, clock=clock, max_pairs=100)
    for n in range(1000):
        guard.failed("a", f"name{n}")
        clock.now += 0.01
    assert len(guard._failures) <= 100
    guard.failed("a", "last")
    guard.failed("a", "last")
    assert guard.retry_after("a", "last") is not None
