"""CLI fixtures: ``stalwart`` run as a user runs it, from a directory of the test's choice."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.workers import ROOT

Shell = Callable[..., subprocess.CompletedProcess[str]]


def expect(
    result: subprocess.CompletedProcess[str], code: int, stdout: str, stderr: str = ""
) -> None:
    """The exact lines a user sees, and the exit status."""
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (
        code,
        stdout,
        stderr,
    ), result


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    """Run ``stalwart ARGS`` in ``cwd`` (default: an empty directory) with no STALWART_*
    variable set unless given: the defaults a new user gets."""

    def run(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
        base["PYTHONPATH"] = str(ROOT)
        base.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "stalwart.cli", *args],
            cwd=str(cwd or tmp_path),
            env=base,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
