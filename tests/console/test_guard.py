"""The login guard's arithmetic, on a clock the test moves."""

from __future__ import annotations

import threading

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
        assert guard.admit("10.0.0.1", "ann") is None  # each attempt fails (never succeeded)
        clock.now += 10
    assert guard.admit("10.0.0.1", "ann") == 30.0  # the first failure was at 1000
    assert guard.admit("10.0.0.1", "ann") == 30.0  # a refused attempt does not count
    assert guard.admit("10.0.0.2", "ann") is None  # another address
    assert guard.admit("10.0.0.1", "bob") is None  # another name
    clock.now += 30
    assert guard.admit("10.0.0.1", "ann") is None  # sliding: one failure aged out
    assert guard.admit("10.0.0.1", "ann") == 10.0


def test_a_success_clears_the_pair() -> None:
    clock = Clock()
    guard = LoginGuard(limit=2, window=60.0, clock=clock)
    assert guard.admit("a", "ann") is None
    assert guard.admit("a", "ann") is None
    guard.succeeded("a", "ann")
    assert guard.admit("a", "ann") is None


def test_parallel_attempts_cannot_slip_past_the_limit() -> None:
    guard = LoginGuard(limit=5, window=60.0)
    admitted = []
    start = threading.Barrier(40)

    def attempt() -> None:
        start.wait()
        if guard.admit("a", "ann") is None:
            admitted.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 5


def test_memory_stays_bounded_under_a_flood_of_names() -> None:
    clock = Clock()
    guard = LoginGuard(limit=2, window=60.0, clock=clock, max_pairs=100)
    for n in range(1000):
        guard.admit("a", f"name{n}")
        clock.now += 0.01
    assert len(guard._failures) <= 100
    guard.admit("a", "last")
    guard.admit("a", "last")
    assert guard.admit("a", "last") is not None
