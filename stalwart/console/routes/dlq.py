"""``/dlq``: dead letters by filter, one dead letter, bulk replay/discard as a job."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from stalwart.console.context import Console, ConsoleDep, PrincipalDep
from stalwart.console.render import page
from stalwart.console.schemas import BulkIn
from stalwart.errors import ActionRefused, QueryError
from stalwart.ops import actions
from stalwart.timeparse import parse_since

router = APIRouter(tags=["dead letters"])

Text = Annotated[str | None, Query(max_length=255)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _since(text: str | None) -> datetime | None:
    return parse_since(text) if text else None


def listing(console: Console, name: str | None, since: str | None, include_replayed: bool,
            limit: int) -> dict[str, Any]:  # fmt: skip
    store, when = console.app.dead_letters, _since(since)
    replayed = None if include_replayed else False
    letters = store.list(name=name or None, since=when, replayed=replayed, limit=limit)
    return {
        "dead_letters": [d.as_dict(console.app) for d in letters],
        "matching": store.count(name=name or None, since=when, replayed=replayed),
        "waiting": store.count(name=name or None, since=when, replayed=False),
    }


@router.get("/api/dlq", summary="Dead letters, newest failure first, with how many match")
def api_dlq(console: ConsoleDep, name: Text = None, since: Text = None,
            include_replayed: bool = False, limit: Limit = 100) -> dict[str, Any]:  # fmt: skip
    return listing(console, name, since, include_replayed, limit)


@router.get("/dlq", include_in_schema=False)
def dlq_page(request: Request, console: ConsoleDep, name: Text = None, since: Text = None,
             include_replayed: bool = False) -> HTMLResponse:  # fmt: skip
    data = listing(console, name, since, include_replayed, 200)
    given = {"name": name, "since": since, "include_replayed": include_replayed}
    return page(request, "dlq.html", "Dead letters", data=data, f=given, live_interval=3)


@router.get("/api/dlq/{ref}", summary="One dead letter (payload redacted, traceback)")
def api_dead_letter(ref: str, console: ConsoleDep) -> dict[str, Any]:
    return console.app.dead_letters.get(ref).as_dict(console.app, full=True)


@router.get("/dlq/{ref}", include_in_schema=False)
def dead_letter_page(ref: str, request: Request, console: ConsoleDep) -> HTMLResponse:
    data = console.app.dead_letters.get(ref).as_dict(console.app, full=True)
    return page(request, "dead_letter.html", f"Dead letter #{data['id']}", data=data)


@router.post(
    "/api/dlq/bulk",
    summary="Replay or discard dead letters by ids or by filter (a job to poll)",
    responses={409: {"description": "the selection changed since the preview"}},
)
def bulk(body: BulkIn, console: ConsoleDep, principal: PrincipalDep) -> dict[str, Any]:
    app, actor = console.app, principal.actor
    if body.ids is not None:
        if body.name or body.since:
            raise QueryError("give ids, or a filter (name, since), not both")
        selected: list[int | str] = list(body.ids)
    else:
        everything = body.force if body.action == "replay" else body.include_replayed
        replayed = None if everything else False
        selected = list(app.dead_letters.select(name=body.name or None, since=_since(body.since),
                                                replayed=replayed))  # fmt: skip
        if body.expected is not None and len(selected) != body.expected:
            raise ActionRefused(
                f"the filter now matches {len(selected)} dead letter(s), not the "
                f"{body.expected} previewed: look again before confirming"
            )
    if not selected:
        raise ActionRefused("no dead letter matches: nothing to do")
    for ref in selected:  # unknown ids are refused before anything is done
        app.dead_letters.get(ref)

    def work(advance: Any) -> Any:
        if body.action == "replay":
            done = actions.replay_dead_letters(app, selected, actor=actor, force=body.force,
                                               on_progress=advance)  # fmt: skip
            return [asdict(r) for r in done]
        return {"discarded": actions.discard_dead_letters(app, selected, actor=actor,
                                                          on_progress=advance)}  # fmt: skip

    return console.jobs.start(f"dlq.{body.action}", len(selected), actor, work).as_dict()


@router.get("/api/jobs/{job_id}", summary="Progress of a bulk action")
def job(job_id: str, console: ConsoleDep) -> dict[str, Any]:
    return console.jobs.get(job_id).as_dict()
