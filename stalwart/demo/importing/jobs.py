"""An import's life: started by the API, validated chunk by chunk, merged in one go.

1. :func:`start` stores the rows in chunks and enqueues one ``import_chunk`` task per
   chunk, in one transaction (the outbox): an accepted upload is always processed.
2. :func:`run_chunk` validates one chunk into a staging table (good rows) and the
   import's error list (bad rows, with line numbers). A chunk runs once: it is
   claimed in the transaction that writes its results. The last chunk enqueues the
   merge.
3. :func:`merge` moves the staged rows into contacts in one transaction: an import is
   never half-imported. Duplicate numbers (in the file, or already known) are merged:
   the last row of a number wins, and an existing contact keeps its opt-out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from stalwart.demo.importing.csvfile import CsvUpload
from stalwart.demo.importing.rows import Contact, RowError, check_row
from stalwart.demo.models import contacts, import_chunks, import_errors, import_rows, imports
from stalwart.errors import NotFound
from stalwart.outbox import enqueue_many

__all__ = ["CHUNK_ROWS", "import_status", "merge", "run_chunk", "start"]

CHUNK_ROWS = 1000
MERGE_BATCH = 500
SHOWN_ERRORS = 100
Progress = Callable[[int, int], None]


def start(engine: Engine, upload: CsvUpload) -> dict[str, Any]:
    """Store ``upload`` and enqueue its chunk tasks; the new import's status."""
    from stalwart.demo.tasks.imports import import_chunk

    chunks = [upload.rows[i : i + CHUNK_ROWS] for i in range(0, len(upload.rows), CHUNK_ROWS)]
    with engine.begin() as db:
        import_id = db.execute(
            imports.insert()
            .values(
                filename=upload.filename[:255],
                status="validating",
                rows_total=len(upload.rows),
                chunks_total=len(chunks),
                created_at=time.time(),
            )
            .returning(imports.c.id)
        ).scalar_one()
        db.execute(
            import_chunks.insert(),
            [
                {"import_id": import_id, "number": n, "rows": [list(r) for r in rows]}
                for n, rows in enumerate(chunks)
            ],
        )
        enqueue_many(db, [import_chunk.s(import_id, n) for n in range(len(chunks))])
        return _status(db, import_id)


def run_chunk(db: Connection, import_id: int, number: int) -> bool:
    """Validate chunk ``number`` (once); True if it was the import's last chunk."""
    from stalwart.demo.tasks.imports import merge_import

    claimed = db.execute(
        import_chunks.update()
        .where(
            import_chunks.c.import_id == import_id,
            import_chunks.c.number == number,
            import_chunks.c.done.is_(False),
        )
        .values(done=True)
    )
    if not claimed.rowcount:
        return False  # validated before (a redelivered task)
    rows = db.execute(
        sa.select(import_chunks.c.rows).where(
            import_chunks.c.import_id == import_id, import_chunks.c.number == number
        )
    ).scalar_one()
    checked = [check_row(int(line), phone, name, segment) for line, phone, name, segment in rows]
    good = [vars(c) | {"import_id": import_id} for c in checked if isinstance(c, Contact)]
    bad = [vars(c) | {"import_id": import_id} for c in checked if isinstance(c, RowError)]
    if good:
        db.execute(import_rows.insert(), good)
    if bad:
        db.execute(import_errors.insert(), bad)
    db.execute(
        imports.update()
        .where(imports.c.id == import_id)
        .values(chunks_done=imports.c.chunks_done + 1)
    )
    done, total = db.execute(
        sa.select(imports.c.chunks_done, imports.c.chunks_total).where(imports.c.id == import_id)
    ).one()
    if done == total:
        enqueue_many(db, [merge_import.s(import_id)])
        return True
    return False


def merge(db: Connection, import_id: int, progress: Progress | None = None) -> dict[str, int]:
    """Merge the staged rows into contacts, all or nothing; counts of what it did."""
    status = db.execute(sa.select(imports.c.status).where(imports.c.id == import_id)).scalar()
    if status != "validating":
        return {}
    staged = db.execute(
        sa.select(import_rows.c.phone, import_rows.c.name, import_rows.c.segment)
        .where(import_rows.c.import_id == import_id)
        .order_by(import_rows.c.line)
    ).all()
    latest = {row.phone: row for row in staged}  # the last row of a number wins
    phones = list(latest)
    created = 0
    for start in range(0, len(phones), MERGE_BATCH):
        batch = phones[start : start + MERGE_BATCH]
        known = set(
            db.execute(sa.select(contacts.c.phone).where(contacts.c.phone.in_(batch))).scalars()
        )
        created += len(batch) - len(known)
        _upsert(db, [latest[p] for p in batch])
        if progress is not None:
            progress(start + len(batch), len(phones))
    counts = {
        "created": created,
        "updated": len(phones) - created,
        "duplicates": len(staged) - len(phones),
    }
    db.execute(
        imports.update()
        .where(imports.c.id == import_id)
        .values(status="completed", finished_at=time.time(), **counts)
    )
    db.execute(import_rows.delete().where(import_rows.c.import_id == import_id))
    return counts


def _upsert(db: Connection, rows: list[Any]) -> None:
    now = time.time()
    dialect = postgresql if db.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(contacts).values(
        [
            {
                "phone": r.phone,
                "name": r.name,
                "segment": r.segment,
                "created_at": now,
                "updated_at": now,
            }
            for r in rows
        ]
    )
    new = insert.excluded
    db.execute(
        insert.on_conflict_do_update(
            index_elements=["phone"],
            set_={
                "name": sa.case((new.name != "", new.name), else_=contacts.c.name),
                "segment": sa.case((new.segment != "", new.segment), else_=contacts.c.segment),
                "updated_at": now,
            },
        )
    )


def import_status(engine: Engine, import_id: int) -> dict[str, Any]:
    with engine.connect() as db:
        return _status(db, import_id)


def _status(db: Connection, import_id: int) -> dict[str, Any]:
    row = db.execute(sa.select(imports).where(imports.c.id == import_id)).mappings().first()
    if row is None:
        raise NotFound(f"no import {import_id}")
    errors = db.execute(
        sa.select(import_errors.c.line, import_errors.c.error)
        .where(import_errors.c.import_id == import_id)
        .order_by(import_errors.c.line)
        .limit(SHOWN_ERRORS)
    ).all()
    bad = db.execute(
        sa.select(sa.func.count()).where(import_errors.c.import_id == import_id)
    ).scalar_one()
    total = max(1, int(row["chunks_total"]))
    return {
        "id": row["id"],
        "filename": row["filename"],
        "status": row["status"],
        "rows": row["rows_total"],
        "chunks": {"done": row["chunks_done"], "total": row["chunks_total"]},
        "progress": round(row["chunks_done"] / total, 3) if row["status"] != "completed" else 1.0,
        "created": row["created"],
        "updated": row["updated"],
        "duplicates": row["duplicates"],
        "bad_rows": int(bad),
        "errors": [{"line": line, "error": error} for line, error in errors],
    }
