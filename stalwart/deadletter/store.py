"""The dead-letter store's query module: list, show, replay, discard.

``app.dead_letters`` is a :class:`DeadLetterStore`; the CLI (``stalwart dlq``) and the
console both call it. Every operator action (replay, discard) writes an audit row in
the same transaction as the change: who, when, what, how many.

A replay sends the stored payload again as a *new* task (new id) carrying the header
``stalwart_replay_of`` (the dead task's id); the row remembers ``replayed_as``. A dead
letter that was already replayed is refused unless ``force=True``.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from stalwart.audit import os_user, record_action
from stalwart.deadletter.record import FIRST_FAILURE_HEADER, REPLAY_OF_HEADER, DeadLetter
from stalwart.deadletter.tables import DeadReason, dead_letters
from stalwart.errors import NotFound, ReplayRefused
from stalwart.events import EventKind, TaskEvent

if TYPE_CHECKING:
    from stalwart.app import Stalwart

__all__ = ["DeadLetter", "DeadLetterStore", "Replayed", "get_dead_letter", "list_dead_letters"]

BATCH = 100
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Replayed:
    """One replay: dead letter ``id`` of task ``task_id`` runs again as ``new_task_id``."""

    id: int
    task_id: str
    new_task_id: str


class DeadLetterStore:
    """Query and act on the dead-letter store of ``app`` (its durable store)."""

    def __init__(self, app: Stalwart) -> None:
        self.app = app

    # -- reading --------------------------------------------------------------------------

    def list(
        self,
        *,
        name: str | None = None,
        since: datetime | None = None,
        replayed: bool | None = None,
        limit: int | None = 100,
    ) -> builtins.list[DeadLetter]:
        """Dead letters, newest failure first, filtered by task name and failure time."""
        return list_dead_letters(
            self.app.engine, name=name, since=since, replayed=replayed, limit=limit
        )

    def count(
        self,
        *,
        name: str | None = None,
        since: datetime | None = None,
        replayed: bool | None = None,
    ) -> int:
        query = _filtered(
            sa.select(sa.func.count()).select_from(dead_letters), name, since, replayed
        )
        with self.app.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    def get(self, ref: int | str) -> DeadLetter:
        """A dead letter by its number or its task id (raises NotFound)."""
        return get_dead_letter(self.app.engine, ref)

    def select(
        self,
        *,
        name: str | None = None,
        since: datetime | None = None,
        replayed: bool | None = None,
    ) -> builtins.list[int]:
        """Numbers of the dead letters matching a filter (for bulk replay/discard)."""
        query = _filtered(sa.select(dead_letters.c.id), name, since, replayed)
        with self.app.engine.connect() as db:
            return [int(i) for i in db.execute(query.order_by(dead_letters.c.id)).scalars()]

    # -- acting ---------------------------------------------------------------------------

    def replay(
        self,
        refs: Sequence[int | str],
        *,
        actor: str | None = None,
        force: bool = False,
        on_progress: Progress | None = None,
    ) -> builtins.list[Replayed]:
        """Send each dead letter's payload again as a new task linked to the original.

        Refuses (ReplayRefused, nothing sent) if one was already replayed and not ``force``.
        """
        letters = [self.get(ref) for ref in refs]
        undecodable = [d for d in letters if d.reason == DeadReason.UNDECODABLE]
        if undecodable:
            shown = ", ".join(str(d.id) for d in undecodable[:5])
            raise ReplayRefused(
                f"dead letter(s) {shown}: an undecodable message names no task to replay; "
                "see its raw bytes with 'stalwart dlq show ID', then discard it"
            )
        done_before = [d for d in letters if d.replayed_as]
        if done_before and not force:
            shown = ", ".join(f"{d.id} (as {d.replayed_as})" for d in done_before[:5])
            raise ReplayRefused(
                f"dead letter(s) already replayed: {shown}; pass --force (force=True) to "
                "replay again"
            )
        actor = actor or os_user()
        outcomes: builtins.list[Replayed] = []
        for batch in _batches(letters):
            with self.app.engine.begin() as db:
                sent = [self._replay_one(db, letter, force) for letter in batch]
                record_action(
                    db,
                    actor=actor,
                    action="dlq.replay",
                    target=",".join(str(d.id) for d in batch),
                    count=len(sent),
                    details={"replayed": {r.id: r.new_task_id for r in sent}, "force": force},
                )
            outcomes.extend(sent)
            self._announce(sent, actor)
            if on_progress is not None:
                on_progress(len(sent))
        return outcomes

    def discard(
        self,
        refs: Sequence[int | str],
        *,
        actor: str | None = None,
        on_progress: Progress | None = None,
    ) -> int:
        """Delete dead letters for good; returns how many were deleted."""
        letters = [self.get(ref) for ref in refs]
        actor = actor or os_user()
        deleted = 0
        for batch in _batches(letters):
            ids = [d.id for d in batch]
            with self.app.engine.begin() as db:
                count = db.execute(dead_letters.delete().where(dead_letters.c.id.in_(ids))).rowcount
                record_action(
                    db,
                    actor=actor,
                    action="dlq.discard",
                    target=",".join(str(i) for i in ids),
                    count=count,
                    details={"task_ids": [d.task_id for d in batch]},
                )
            deleted += count
            if on_progress is not None:
                on_progress(len(batch))
        return deleted

    def _replay_one(self, db: sa.Connection, letter: DeadLetter, force: bool) -> Replayed:
        new_id = str(uuid.uuid4())
        claim = dead_letters.update().where(dead_letters.c.id == letter.id)
        if not force:
            claim = claim.where(dead_letters.c.replayed_as.is_(None))
        claimed = db.execute(
            claim.values(
                replayed_as=new_id,
                replayed_at=datetime.now(UTC),
                replay_count=dead_letters.c.replay_count + 1,
            )
        ).rowcount
        if not claimed:  # replayed concurrently by someone else since we read it
            raise ReplayRefused(f"dead letter {letter.id} was just replayed by someone else")
        headers = {
            k: v
            for k, v in (letter.options.get("headers") or {}).items()
            if k != FIRST_FAILURE_HEADER
        }
        headers[REPLAY_OF_HEADER] = letter.task_id
        options: dict[str, Any] = {"task_id": new_id, "headers": headers}
        if letter.queue:
            options["queue"] = letter.queue
        if letter.options.get("priority") is not None:
            options["priority"] = letter.options["priority"]
        self.app.send_task(letter.name, args=letter.args, kwargs=letter.kwargs, **options)
        return Replayed(int(letter.id or 0), letter.task_id, new_id)

    def _announce(self, sent: builtins.list[Replayed], actor: str) -> None:
        for replayed in sent:
            fields = {"replay_of": replayed.task_id, "dead_letter": replayed.id, "actor": actor}
            self.app.task_events.add(
                TaskEvent(EventKind.REPLAYED, replayed.new_task_id, fields=fields)
            )


def list_dead_letters(
    engine: sa.Engine,
    *,
    name: str | None = None,
    since: datetime | None = None,
    replayed: bool | None = None,
    limit: int | None = 100,
) -> list[DeadLetter]:
    """Dead letters, newest failure first (what :meth:`DeadLetterStore.list` returns)."""
    query = _filtered(sa.select(dead_letters), name, since, replayed)
    query = query.order_by(dead_letters.c.last_failed_at.desc(), dead_letters.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as db:
        return [_record(row) for row in db.execute(query)]


def get_dead_letter(engine: sa.Engine, ref: int | str) -> DeadLetter:
    """A dead letter by its number or its task id (raises NotFound)."""
    with engine.connect() as db:
        row = db.execute(sa.select(dead_letters).where(_ref_clause(ref))).first()
    if row is None:
        raise NotFound(f"no dead letter {ref!r} (see 'stalwart dlq ls')")
    return _record(row)


def _filtered(query: Any, name: str | None, since: datetime | None, replayed: bool | None) -> Any:
    if name is not None:
        query = query.where(dead_letters.c.name == name)
    if since is not None:
        query = query.where(dead_letters.c.last_failed_at >= since)
    if replayed is True:
        query = query.where(dead_letters.c.replayed_as.is_not(None))
    elif replayed is False:
        query = query.where(dead_letters.c.replayed_as.is_(None))
    return query


def _ref_clause(ref: int | str) -> Any:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return dead_letters.c.id == int(ref)
    return dead_letters.c.task_id == ref


def _record(row: sa.Row[Any]) -> DeadLetter:
    return DeadLetter(**row._mapping)


def _batches(letters: builtins.list[DeadLetter]) -> Iterator[list[DeadLetter]]:
    for start in range(0, len(letters), BATCH):
        yield letters[start : start + BATCH]
