"""Flow-control options are parsed at decoration time; bad values fail naming the problem."""

from __future__ import annotations

from typing import Any

import pytest

from stalwart import Breaker, Concurrency, Stalwart, Window
from stalwart.errors import TaskOptionError
from stalwart.limits.quota import Quota
from stalwart.limits.throttle import Throttle
from stalwart.settings import Settings


@pytest.fixture
def app(settings: Settings) -> Stalwart:
    return Stalwart("options", settings=settings)


def test_values_are_parsed_into_typed_limits(app: Stalwart) -> None:
    @app.task(
        shared=False,
        throttle="100/m",
        quota="125/d",
        limit_key="{sender}",
        window=Window("09:00-18:00", days="mon-fri", tz="America/New_York", holidays="US"),
        unique=True,
        concurrency=4,
        breaker="sms-gateway",
    )
    def send_sms(sender: str, to: str) -> None: ...

    options = send_sms.stalwart_options
    assert options.throttle == Throttle(100, 60.0)
    assert options.quota == Quota(125, "d")
    assert options.concurrency == Concurrency(4)
    assert options.breaker == Breaker("sms-gateway")
    plan = app.pipeline.get("flow").plan(send_sms)  # type: ignore[union-attr]
    assert plan is not None
    kinds = {limit.kind for limit in plan.limits}
    assert kinds == {"window", "unique", "pause", "breaker", "concurrency", "quota", "throttle"}
    assert Throttle.parse("5/10s") == Throttle(5, 10.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"throttle": "100"}, "throttle must look like"),
        ({"throttle": "0/s"}, "throttle must look like"),
        ({"throttle": "10/d"}, "throttle must look like"),
        ({"quota": "125/h"}, "quota must look like"),
        ({"quota": 125}, "quota must look like"),
        ({"concurrency": 0}, "concurrency must be"),
        ({"concurrency": Concurrency(2, lease=1)}, "lease >= 3"),
        ({"breaker": ""}, "breaker must be a name"),
        ({"breaker": Breaker("gw", failures=0)}, "failures >= 1"),
        ({"window": "09:00-18:00"}, "window must be a stalwart.Window"),
        ({"unique": "yes"}, "unique must be True or False"),
        ({"limit_key": "{sender}"}, "limit_key needs throttle"),
        ({"throttle": "1/s", "limit_key": "{nobody}"}, "not an argument"),
    ],
)
def test_bad_values_fail_at_decoration(
    app: Stalwart, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskOptionError, match=message):

        @app.task(shared=False, **options)
        def send_sms(sender: str) -> None: ...
