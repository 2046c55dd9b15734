"""``import_chunk`` and ``merge_import``: the two steps of a contact import
(see :mod:`stalwart.demo.importing.jobs`)."""

from __future__ import annotations

from typing import Any

from stalwart import RetryPolicy
from stalwart.demo.app import app
from stalwart.demo.importing import jobs

__all__ = ["import_chunk", "merge_import"]

_RETRY = RetryPolicy(max_retries=3, initial_delay=1.0)


@app.task(name="crm.import_chunk", queue="imports", retry=_RETRY)
def import_chunk(import_id: int, number: int) -> bool:
    with app.engine.begin() as db:
        return jobs.run_chunk(db, import_id, number)


@app.task(bind=True, name="crm.merge_import", queue="imports", retry=_RETRY)
def merge_import(self: Any, import_id: int) -> dict[str, int]:
    with app.engine.begin() as db:
        return jobs.merge(db, import_id, progress=lambda done, total: _report(self, done, total))


def _report(task: Any, done: int, total: int) -> None:
    task.progress(done, total, "merging contacts")  # shown by `stalwart tasks show`
