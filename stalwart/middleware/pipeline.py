"""The ordered list of an app's middleware, and the task options they declare."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from stalwart.errors import StalwartError
from stalwart.middleware.base import Middleware, TaskOption

__all__ = ["Pipeline", "emit"]

log = logging.getLogger("stalwart.middleware")

Position = str | type[Middleware] | Middleware | None


class Pipeline:
    """Middleware in the order their before-phases run (after-phases run reversed)."""

    def __init__(self) -> None:
        self._middleware: list[Middleware] = []
        self._options: dict[str, tuple[TaskOption[Any], Middleware]] = {}
        #: Grows with every change, so drivers know to recompute their phase lists.
        self.version = 0

    def __iter__(self) -> Iterator[Middleware]:
        return iter(tuple(self._middleware))

    def __len__(self) -> int:
        return len(self._middleware)

    @property
    def names(self) -> list[str]:
        return [mw.name for mw in self._middleware]

    @property
    def options(self) -> dict[str, TaskOption[Any]]:
        """Every task option a middleware of this pipeline declares, by name."""
        return {name: option for name, (option, _) in self._options.items()}

    def owner(self, option: str) -> Middleware:
        return self._options[option][1]

    def get(self, name: str) -> Middleware | None:
        return next((mw for mw in self._middleware if mw.name == name), None)

    def add(
        self, middleware: Middleware, *, before: Position = None, after: Position = None
    ) -> None:
        """Insert ``middleware`` (at the end, or just before/after another one).

        Refuses a second middleware of the same name, and a task option another
        middleware of this pipeline already declares.
        """
        if not isinstance(middleware, Middleware):
            raise StalwartError(f"{middleware!r} is not a stalwart.Middleware")
        if before is not None and after is not None:
            raise StalwartError("add_middleware: give before= or after=, not both")
        if self.get(middleware.name) is not None:
            raise StalwartError(f"a middleware named {middleware.name!r} is already added")
        declared: dict[str, TaskOption[Any]] = {}
        for option in middleware.options:
            taken = self._options.get(option.name)
            if taken is not None or option.name in declared:
                other = taken[1].name if taken is not None else middleware.name
                raise StalwartError(
                    f"task option {option.name!r} of middleware {middleware.name!r} is "
                    f"already declared by {other!r}: each option has one owner"
                )
            declared[option.name] = option
        index = len(self._middleware)
        if before is not None:
            index = self._index(before)
        elif after is not None:
            index = self._index(after) + 1
        self._middleware.insert(index, middleware)
        for name, option in declared.items():
            self._options[name] = (option, middleware)
        self.version += 1

    def replace(self, name: str, middleware: Middleware) -> Middleware:
        """Put ``middleware`` where the one named ``name`` is; returns the one replaced."""
        old = self._middleware[self._index(name)]
        index = self._middleware.index(old)
        self._middleware.remove(old)
        self._options = {k: v for k, v in self._options.items() if v[1] is not old}
        try:
            self.add(
                middleware,
                before=self._middleware[index] if index < len(self._middleware) else None,
            )
        except Exception:
            self._middleware.insert(index, old)
            self._options.update({o.name: (o, old) for o in old.options})
            raise
        return old

    def _index(self, position: Position) -> int:
        for index, mw in enumerate(self._middleware):
            if (
                mw is position
                or (isinstance(position, str) and mw.name == position)
                or (isinstance(position, type) and isinstance(mw, position))
            ):
                return index
        raise StalwartError(f"no middleware {position!r} in the pipeline (have: {self.names})")


def emit(
    middleware: Iterator[Middleware] | list[Middleware],
    phase: str,
    call: Callable[[Middleware], object],
    what: str,
) -> None:
    """Run ``call`` for each middleware, logging (not raising) what fails."""
    for mw in middleware:
        try:
            call(mw)
        except Exception:
            log.exception("middleware %s failed in %s of %s", mw.name, phase, what)
