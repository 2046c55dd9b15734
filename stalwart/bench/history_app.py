"""The app ``stalwart bench history`` runs in its workers: one no-op task.

``BENCH_HISTORY_RECORDING=0`` in a worker's environment switches recording off
(``app.record_history``), the "off" side of the drain-rate comparison.
"""

from __future__ import annotations

import os

from stalwart import Stalwart

app = Stalwart("bench-history")
app.record_history = os.environ.get("BENCH_HISTORY_RECORDING", "1") == "1"


@app.task
def noop() -> None:
    """Does nothing: the benchmark measures what happens around a task."""
