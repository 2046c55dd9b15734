"""The middleware pipeline itself, without a worker: order, failures, early ends,
outcomes, and the task options middleware declare.

Executions run in Celery's eager mode (``task.apply()``), which goes through the same
driver as a worker (prerun -> __call__ -> postrun); the built-in guarantees that need
the stores sit eager executions out, so these tests need no Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stalwart import (
    Deferred,
    Execution,
    Middleware,
    Outcome,
    OutcomeKind,
    RetryPolicy,
    ReturnResult,
    Stalwart,
    StalwartError,
    TaskOption,
    TaskOptionError,
)
from stalwart.settings import Settings
from tests.apps.middleware import AUDITED, _flag


class Tracer(Middleware):
    """Records every phase it sees, as ``"<name>.<phase>"`` (and outcomes' kinds)."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name  # type: ignore[misc]
        self.log = log

    def prepare(self, execution: Execution) -> None:
        self.log.append(f"{self.name}.prepare")

    def before_execute(self, execution: Execution) -> None:
        self.log.append(f"{self.name}.before")

    def after_execute(self, execution: Execution, outcome: Outcome) -> None:
        self.log.append(f"{self.name}.after:{outcome.kind}")

    def finalize(self, execution: Execution) -> None:
        self.log.append(f"{self.name}.finalize")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Stalwart]:
    settings = Settings(
        data_dir=tmp_path / "data",
        broker_url="redis://127.0.0.1:1/0",  # never contacted: eager mode publishes nothing
        database_url=f"sqlite:///{tmp_path / 'unit.db'}",
    )
    application = Stalwart("unit", settings=settings)
    application.conf.task_always_eager = True
    yield application


def test_phases_run_in_order_and_after_phases_in_reverse(app: Stalwart) -> None:
    log: list[str] = []
    app.add_middleware(Tracer("a", log))
    app.add_middleware(Tracer("b", log))
    app.add_middleware(Tracer("first", log), before="a")

    @app.task
    def work() -> str:
        log.append("body")
        return "done"

    assert work.apply().get() == "done"
    assert log == [
        "first.prepare",
        "a.prepare",
        "b.prepare",
        "first.before",
        "a.before",
        "b.before",
        "body",
        "b.after:succeeded",
        "a.after:succeeded",
        "first.after:succeeded",
        "b.finalize",
        "a.finalize",
        "first.finalize",
    ]


def test_an_early_end_skips_the_body_and_the_inner_middleware(app: Stalwart) -> None:
    log: list[str] = []

    class Cached(Middleware):
        name = "cached"

        def before_execute(self, execution: Execution) -> None:
            raise ReturnResult("from cache")

    app.add_middleware(Tracer("outer", log))
    app.add_middleware(Cached())
    app.add_middleware(Tracer("inner", log))

    @app.task
    def work() -> str:
        log.append("body")
        return "ran"

    assert work.apply().get() == "from cache"
    assert "body" not in log and "inner.before" not in log
    # After-phases still run for every middleware, with the final outcome.
    assert "inner.after:succeeded" in log and "outer.after:succeeded" in log


def test_a_failing_after_phase_is_logged_and_the_others_still_run(
    app: Stalwart, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[str] = []

    class Broken(Middleware):
        name = "broken"

        def after_execute(self, execution: Execution, outcome: Outcome) -> None:
            raise RuntimeError("broken middleware")

        def finalize(self, execution: Execution) -> None:
            raise RuntimeError("broken finalize")

    app.add_middleware(Tracer("outer", log))
    app.add_middleware(Broken())

    @app.task
    def work() -> int:
        return 7

    assert work.apply().get() == 7
    assert "outer.after:succeeded" in log and "outer.finalize" in log
    assert "middleware broken failed after" in caplog.text
    assert "middleware broken failed finalizing" in caplog.text


def test_a_failing_before_phase_fails_the_execution_before_the_body(app: Stalwart) -> None:
    ran: list[str] = []

    class Refuses(Middleware):
        name = "refuses"

        def before_execute(self, execution: Execution) -> None:
            raise PermissionError("not today")

    app.add_middleware(Refuses())

    @app.task
    def work() -> None:
        ran.append("body")

    result = work.apply()
    assert result.state == "FAILURE"
    assert isinstance(result.result, PermissionError)
    assert ran == []


def test_the_decide_phase_chooses_the_outcome(app: Stalwart) -> None:
    outcomes: list[Outcome] = []

    class Watch(Middleware):
        name = "watch"

        def after_execute(self, execution: Execution, outcome: Outcome) -> None:
            outcomes.append(outcome)

    class Forgiving(Middleware):
        """Decides before the retry policy: a LookupError is a success with None."""

        name = "forgiving"

        def decide(self, execution: Execution, exc: Exception) -> Outcome | None:
            if isinstance(exc, LookupError):
                return Outcome(OutcomeKind.SUCCEEDED)
            return None

    app.add_middleware(Watch(), before="retries")
    app.add_middleware(Forgiving(), before="retries")

    @app.task
    def missing() -> None:
        raise KeyError("gone")

    @app.task
    def broken() -> None:
        raise ValueError("bad")

    assert missing.apply().get() is None
    assert outcomes[-1].kind is OutcomeKind.SUCCEEDED and isinstance(outcomes[-1].exc, KeyError)

    # Nobody forgives a ValueError: the retry middleware decides (no policy: dead letter,
    # which eager mode, storing nothing, turns into a failure the caller sees).
    result = broken.apply()
    assert result.state == "FAILURE" and isinstance(result.result, ValueError)
    assert outcomes[-1].kind is OutcomeKind.FAILED and outcomes[-1].ran


def test_a_retry_policy_retries_synchronously_in_eager_mode(app: Stalwart) -> None:
    kinds: list[str] = []
    attempts: list[int] = []

    class Watch(Middleware):
        name = "watch"

        def after_execute(self, execution: Execution, outcome: Outcome) -> None:
            kinds.append(outcome.kind.value)

    app.add_middleware(Watch())

    @app.task(bind=True, retry=RetryPolicy(max_retries=3, initial_delay=30, jitter=False))
    def flaky(self: Any) -> int:
        attempts.append(self.request.retries)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return len(attempts)

    assert flaky.apply().get() == 3
    assert attempts == [0, 1, 2]
    assert kinds == ["retried", "retried", "succeeded"]


def test_a_deferral_under_eager_mode_fails_instead_of_recursing(app: Stalwart) -> None:
    class Later(Middleware):
        name = "later"

        def before_execute(self, execution: Execution) -> None:
            raise Deferred(until=0.0, reason="test")

    app.add_middleware(Later())

    @app.task
    def work() -> None: ...

    result = work.apply()
    assert result.state == "FAILURE"
    assert "deferred (test) under eager mode" in str(result.result)


def test_options_come_from_the_middleware_that_declares_them(app: Stalwart) -> None:
    class Audit(Middleware):
        name = "audit"
        options = (AUDITED,)

    with pytest.raises(TaskOptionError, match="unknown task option 'audited'"):

        @app.task(audited=True)
        def before_registration() -> None: ...

    app.add_middleware(Audit())

    @app.task(audited=True)
    def audited_task() -> None: ...

    @app.task
    def plain_task() -> None: ...

    assert AUDITED.of(audited_task.stalwart_options) is True
    assert AUDITED.of(plain_task.stalwart_options) is False
    with pytest.raises(TaskOptionError, match="audited must be True or False"):

        @app.task(audited="yes")
        def wrong() -> None: ...


def test_unknown_options_fail_with_a_suggestion(app: Stalwart) -> None:
    with pytest.raises(
        TaskOptionError, match=r"unknown task option 'idempotncy_key'.*'idempotency_key'"
    ):

        @app.task(idempotncy_key="x")
        def typo() -> None: ...


def test_an_option_declared_twice_is_refused(app: Stalwart) -> None:
    class Mine(Middleware):
        name = "mine"
        options = (TaskOption("throttle", parse=_flag, default=False, doc="clash"),)

    with pytest.raises(
        StalwartError, match="'throttle' of middleware 'mine' is already declared by 'flow'"
    ):
        app.add_middleware(Mine())
    assert "mine" not in app.pipeline.names


def test_names_and_positions_are_checked(app: Stalwart) -> None:
    with pytest.raises(StalwartError, match="already added"):
        app.add_middleware(Tracer("flow", []))
    with pytest.raises(StalwartError, match="no middleware 'nowhere'"):
        app.add_middleware(Tracer("x", []), after="nowhere")
    app.add_middleware(Tracer("x", []), after="flow")
    names = app.pipeline.names
    assert names.index("x") == names.index("flow") + 1
    assert names[:6] == ["poison", "idempotency", "flow", "x", "unique", "retries"]
