"""`stalwart demo` on the embedded default: runs real work, exits 0, leaves no process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_embedded import processes_using


def test_demo_runs_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
    result = subprocess.run(
        [sys.executable, "-m", "stalwart.cli", "demo", "--duration", "8"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "What ran" in result.stdout
    assert "demo.send_sms" in result.stdout
    assert "no process left running" in result.stdout
    data_dir = (tmp_path / ".stalwart").resolve()
    assert (data_dir / "stalwart.db").exists()
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in processes_using(data_dir)}
    assert left == {}, result.stdout
