"""Slowing password guessing on the console's login.

Each check of a password already costs an argon2 hash; on top of that, once one address
has failed to log in as one user name ``limit`` times within ``window`` seconds, that
pair is refused (429, with ``Retry-After``) until its oldest failure is ``window``
seconds old. A successful login clears the pair. Pairs, not names: somebody guessing
``ann``'s password cannot lock ``ann`` out from her own address. Unknown names count
like known ones, so the answer tells nothing about which names exist.

The record is kept in the console process's memory: each replica of the console
counts on its own, and a restart forgets.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginGuard"]

Pair = tuple[str, str]


class LoginGuard:
    """Failed logins per (address, user name), in a sliding window."""

    def __init__(
        self,
        limit: int = 5,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_pairs: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_pairs = max_pairs
        self._failures: dict[Pair, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, address: str, name: str) -> float | None:
        """Let one login attempt through (None), counted as a failure until
        :meth:`succeeded` says otherwise, or the seconds until this pair may try again.
        Checking and counting are one step, so parallel attempts cannot slip past."""
        with self._lock:
            pair = (address, name)
            failures = self._recent(pair)
            if failures is not None and len(failures) >= self.limit:
                return max(0.0, failures[0] + self.window - self._clock())
            if failures is None:
                if len(self._failures) >= self._max_pairs:
                    self._forget_old()
                failures = self._failures[pair] = deque(maxlen=self.limit)
            failures.append(self._clock())
            return None

    def succeeded(self, address: str, name: str) -> None:
        """The attempt's password was right: forget the pair's failures."""
        with self._lock:
            self._failures.pop((address, name), None)

    def _recent(self, pair: Pair) -> deque[float] | None:
        failures = self._failures.get(pair)
        if failures is None:
            return None
        horizon = self._clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[pair]
            return None
        return failures

    def _forget_old(self) -> None:
        """Bound memory under a flood of names: drop every pair whose failures expired,
        then, if still full, the oldest half."""
        horizon = self._clock() - self.window
        for pair in [p for p, f in self._failures.items() if not f or f[-1] <= horizon]:
            del self._failures[pair]
        if len(self._failures) >= self._max_pairs:
            by_age = sorted(self._failures, key=lambda p: self._failures[p][-1])
            for pair in by_age[: len(by_age) // 2]:
                del self._failures[pair]
