"""The JSON API fuzzed with schemathesis from its own OpenAPI document: no 5xx, ever, and
every 4xx answers with a JSON error body.

A console of its own (own Redis database, own SQLite file, no ``-A``: the settings
alone), since fuzzed actions may discard or replay whatever they find.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.console.conftest import TOKEN, claimed_redis, console_settings, start_console

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with claimed_redis() as redis_url:
        proc, url = start_console(console_settings(tmp, redis_url), tmp / "console.log", app=None)
        try:
            yield url
        finally:
            proc.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed: str) -> Any:
    loaded = schemathesis.openapi.from_url(f"{fuzzed}/api/openapi.json", headers=AUTH)
    # /readyz answers 503 by design here (no worker): readiness is tested on its own.
    return loaded.exclude(path="/readyz")


def test_api_never_fails_with_a_5xx_and_explains_every_4xx(api_schema: Any, fuzzed: str) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20  # every listing, action, probe and the session

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)  # fmt: skip
        def check(case: Any) -> None:
            response = case.call(base_url=fuzzed, headers=AUTH)
            where = (case.method, case.formatted_path, case.query, case.body)
            assert response.status_code < 500, (where, response.text[:500])
            if response.status_code >= 400:
                assert "application/json" in str(response.headers["content-type"]), where
                error = response.json()["error"]
                assert error["status"] == response.status_code
                assert isinstance(error["message"], str) and error["message"]

        check()
