"""Task options: Stalwart's sit beside Celery's; unknown or invalid ones fail at decoration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stalwart import Settings, Stalwart, TaskOptionError


@pytest.fixture
def app() -> Stalwart:
    return Stalwart("options", settings=Settings(broker_url="redis://127.0.0.1:1/0"))


def test_celery_options_keep_working(app: Stalwart) -> None:
    @app.task(bind=True, name="x.t", max_retries=7, rate_limit="5/s", queue="q", acks_late=True)
    def t(self: object, a: int) -> int:
        return a

    assert t.name == "x.t"
    assert t.max_retries == 7
    assert t.rate_limit == "5/s"
    assert callable(t.retry), "Celery's retry method must survive Stalwart's retry option"


def test_unknown_option_names_it_and_suggests(app: Stalwart) -> None:
    with pytest.raises(TaskOptionError) as info:

        @app.task(thrtotle="5/s")
        def t() -> None: ...

    message = str(info.value)
    assert "unknown task option 'thrtotle'" in message
    assert "did you mean 'throttle'?" in message


def test_idempotency_key_binds_the_signature(app: Stalwart) -> None:
    @app.task(bind=True, idempotency_key="sms:{campaign_id}:{contact_id}")
    def send(self: object, campaign_id: int, contact_id: int, body: str = "") -> None: ...

    spec = send.stalwart_options.idempotency_key
    assert spec.render((1, 2), {}) == "sms:1:2"
    assert spec.render((), {"contact_id": 2, "campaign_id": 1}) == "sms:1:2"
    assert spec.render((1,), {"contact_id": 2, "body": "x"}) == "sms:1:2"


def test_callable_key(app: Stalwart) -> None:
    @app.task(idempotency_key=lambda order, **_: f"order-{order}")
    def pay(order: int, amount: int) -> None: ...

    assert pay.stalwart_options.idempotency_key.render((9, 10), {}) == "order-9"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"idempotency_key": "k:{nope}"}, "names 'nope', which is not an argument"),
        ({"idempotency_key": "k:{0}"}, "use argument names in braces"),
        ({"idempotency_key": "k:{a}", "idempotency_ttl": -1}, "idempotency_ttl must be"),
        ({"idempotency_ttl": 10}, "idempotency_ttl needs idempotency_key"),
        ({"concurrency": 0}, "concurrency must be a whole number >= 1"),
        ({"unique": "yes"}, "unique must be True or False"),
        ({"breaker": ""}, "breaker must be a name"),
    ],
)
def test_invalid_values_fail_at_decoration(
    app: Stalwart, options: dict[str, object], message: str
) -> None:
    with pytest.raises(TaskOptionError, match=message):

        @app.task(**options)
        def t(a: int) -> None: ...


_SHARED = """
from celery import shared_task
from stalwart import Settings, Stalwart

@shared_task(bind=True, {options})
def send_receipt(self, order_id: int) -> int:
    return order_id

app = Stalwart("shared", settings=Settings(broker_url="redis://127.0.0.1:1/0"))
app.finalize()
task = app.tasks[send_receipt.name]
print(sorted(task.stalwart_options), task.max_retries)
"""


def _shared_task(options: str) -> subprocess.CompletedProcess[str]:
    """A ``@shared_task`` in a process of its own (Celery applies shared tasks to every
    app finalized afterwards, so a test process must not keep one)."""
    script = _SHARED.format(options=options)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )


def test_shared_task_options_mean_what_they_mean_on_app_task() -> None:
    shown = _shared_task('idempotency_key="receipt:{order_id}", throttle="5/s", max_retries=2')
    assert (shown.returncode, shown.stdout) == (0, "['idempotency_key', 'throttle'] 2\n")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ('idempotency_keys="r:{order_id}"', "unknown task option 'idempotency_keys'"),
        ('idempotency_key="r:{nope}"', "names 'nope', which is not an argument"),
    ],
)
def test_a_bad_shared_task_option_fails_when_the_app_is_finalized(options: str, error: str) -> None:
    shown = _shared_task(options)
    assert shown.returncode == 1
    assert "TaskOptionError" in shown.stderr and error in shown.stderr, shown.stderr
