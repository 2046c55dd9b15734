"""The compat layer refuses an untested Celery/kombu with one line (versions simulated)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stalwart.compat.versions import SUPPORTED, installed_versions, supported_problem
from tests.support.workers import ROOT


def test_the_installed_versions_are_supported() -> None:
    assert supported_problem(installed_versions()) is None


@pytest.mark.parametrize(
    ("installed", "named"),
    [
        ({"celery": "5.6.3", "kombu": "5.7.0"}, "celery 5.6.3"),
        ({"celery": "5.8.0", "kombu": "5.7.0"}, "celery 5.8.0"),
        ({"celery": "5.7.0", "kombu": "5.5.4"}, "kombu 5.5.4"),
        ({"celery": "6.0.0rc1", "kombu": "5.7.0"}, "celery 6.0.0rc1"),
        ({"celery": "garbage", "kombu": "5.7.0"}, "celery garbage"),
    ],
)
def test_an_unsupported_version_is_named_with_the_supported_range(
    installed: dict[str, str], named: str
) -> None:
    problem = supported_problem(installed)
    assert problem is not None and "\n" not in problem
    assert problem.startswith(
        "Stalwart supports celery 5.7.x and kombu 5.7.x, but this environment has "
    )
    assert named in problem
    assert "pip install 'celery>=5.7,<5.8' 'kombu>=5.7,<5.8'" in problem


def test_the_declared_dependency_range_is_the_supported_range() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    for package, ((lo_major, lo_minor), (hi_major, hi_minor)) in SUPPORTED.items():
        assert f"{package}>={lo_major}.{lo_minor},<{hi_major}.{hi_minor}" in text.replace(
            "celery[redis]", "celery"
        ), package


def test_importing_stalwart_with_an_unsupported_celery_fails_with_one_line() -> None:
    code = "import celery; celery.__version__ = '5.6.3'\nimport stalwart"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=60
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("stalwart.errors.UnsupportedVersion: Stalwart supports celery 5.7.x")
    assert "celery 5.6.3" in last
