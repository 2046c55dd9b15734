"""``stalwart dlq ls|show|replay|discard``: the dead-letter store from the command line.

Every command calls :class:`stalwart.deadletter.DeadLetterStore` (``app.dead_letters``),
the same module the console uses. Bulk actions (``--name``/``--all``) ask for
confirmation unless ``--yes`` and show a progress bar; each action is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stalwart.cli.context import Context
from stalwart.errors import StalwartError

if TYPE_CHECKING:
    from stalwart.app import Stalwart
    from stalwart.deadletter.store import DeadLetter

__all__ = ["dlq_app"]

dlq_app = typer.Typer(
    no_args_is_help=True, help="The dead-letter store: list, show, replay, discard."
)

AppOption = Annotated[
    str | None, typer.Option("-A", "--app", help="MODULE:APP (optional; used to redact arguments)")
]
NameOption = Annotated[str | None, typer.Option("--name", help="Only this task name.")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Failed within, e.g. 30m, 6h, 2d, or an ISO time.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Refs = Annotated[list[str] | None, typer.Argument(help="Dead-letter numbers or task ids.")]


def _since(text: str | None) -> datetime | None:
    from stalwart.timeparse import parse_since

    return None if text is None else parse_since(text)


def _view(context: Context, letter: DeadLetter, full: bool = False) -> dict[str, Any]:
    """The dead letter as shown: arguments redacted (by name too, when ``-A`` is given)."""
    from stalwart.redaction import Redactor

    task = context.loaded.tasks.get(letter.name) if context.loaded is not None else None
    return letter.view(Redactor(context.settings.redact), task, full=full)


@dlq_app.command("ls")
def dlq_ls(
    app: AppOption = None,
    name: NameOption = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List dead letters, newest failure first."""
    from stalwart.cli.output import console, new_table, print_json
    from stalwart.deadletter.store import list_dead_letters

    context = Context(app)
    after = _since(since)
    engine = context.database()
    if engine is None:
        context.nothing(as_json, [], "no dead letters", context.no_store())
        return
    with context.reading():
        letters = list_dead_letters(engine, name=name, since=after, limit=limit)
    if as_json:
        print_json([_view(context, letter) for letter in letters])
        return
    table = new_table(
        "#",
        "task",
        "task id",
        "reason",
        "error",
        "attempts",
        "last failure",
        "replayed",
        title=f"Dead letters ({len(letters)} shown)",
        whole=("#", "task id", "replayed"),
    )
    for d in letters:
        table.add_row(
            str(d.id),
            d.name,
            d.task_id,
            d.reason,
            f"{d.exc_type.rsplit('.', 1)[-1]}: {d.exc_message}"[:60],
            str(d.attempts),
            d.last_failed_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.replayed_as or "",
        )
    console.print(table)


@dlq_app.command("show")
def dlq_show(
    ref: Annotated[str, typer.Argument(help="Dead-letter number or task id.")],
    app: AppOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one dead letter: payload (redacted), error, traceback, attempts, links."""
    from rich.markup import escape

    from stalwart.cli.output import console, print_json
    from stalwart.deadletter.store import get_dead_letter
    from stalwart.errors import NotFound

    context = Context(app)
    engine = context.database()
    if engine is None:
        raise NotFound(f"no dead letter {ref!r}: {context.no_store()}")
    with context.reading():
        data = _view(context, get_dead_letter(engine, ref), full=True)
    if as_json:
        print_json(data)
        return
    traceback = data.pop("traceback")
    data.pop("raw_base64", None)  # --json has it; the text shows ``raw`` escaped
    for field, value in data.items():
        shown = value if isinstance(value, str) or value is None else _json(value)
        console.print(f"[bold]{field:>16}[/]  {escape(str(shown))}", highlight=False, markup=True)
    console.print("[bold]traceback[/]")
    console.print(traceback, markup=False, highlight=False)


def _json(value: Any) -> str:
    """A value as ``tasks show`` prints arguments: compact JSON."""
    import json

    return json.dumps(value, separators=(",", ":"), default=str)


def _selection(
    stalwart_app: Stalwart,
    refs: list[str] | None,
    name: str | None,
    since: str | None,
    everything: bool,
    replayed: bool | None,
) -> tuple[list[int | str], bool]:
    """The dead letters an action applies to, and whether it is a bulk selection."""
    if refs and (name or since or everything):
        raise StalwartError("give dead-letter ids, or --name/--since/--all, not both")
    if refs:
        return list(refs), False
    if not (name or everything):
        raise StalwartError("say which dead letters: ids, --name TASK, or --all")
    ids = stalwart_app.dead_letters.select(name=name, since=_since(since), replayed=replayed)
    return list(ids), True


def _run_with_bar(
    label: str, total: int, quiet: bool, work: Callable[[Callable[[int], None]], object]
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from stalwart.cli.output import err_console

    if quiet or total <= 1:
        work(lambda _n: None)
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(label, total=total)
        work(lambda n: bar.advance(task, n))


@dlq_app.command("replay")
def dlq_replay(
    refs: Refs = None,
    app: AppOption = None,
    name: NameOption = None,
    since: SinceOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every not-yet-replayed dead letter.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replay even if already replayed.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run dead tasks again as new tasks linked to the originals (replay_of)."""
    stalwart_app = Context(app).app_with_store("no dead letters to replay")
    selected, bulk = _selection(
        stalwart_app, refs, name, since, everything, None if force else False
    )
    if not selected:
        _report(as_json, "replayed", [], "no dead letters match")
        return
    if bulk and not yes:
        typer.confirm(f"Replay {len(selected)} dead letter(s)?", abort=True, err=True)
    outcomes: list[Any] = []

    def work(advance: Callable[[int], None]) -> None:
        outcomes.extend(
            stalwart_app.dead_letters.replay(selected, force=force, on_progress=advance)
        )

    _run_with_bar("replaying", len(selected), as_json, work)
    rows = [{"id": r.id, "task_id": r.task_id, "new_task_id": r.new_task_id} for r in outcomes]
    _report(as_json, "replayed", rows, f"replayed {len(rows)} dead letter(s)")


@dlq_app.command("discard")
def dlq_discard(
    refs: Refs = None,
    app: AppOption = None,
    name: NameOption = None,
    since: SinceOption = None,
    everything: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete dead letters for good (audited)."""
    stalwart_app = Context(app).app_with_store("no dead letters to discard")
    selected, bulk = _selection(stalwart_app, refs, name, since, everything, None)
    if not selected:
        _report(as_json, "discarded", [], "no dead letters match")
        return
    if bulk and not yes:
        typer.confirm(f"Discard {len(selected)} dead letter(s) for good?", abort=True, err=True)
    counts: list[int] = []

    def work(advance: Callable[[int], None]) -> None:
        counts.append(stalwart_app.dead_letters.discard(selected, on_progress=advance))

    _run_with_bar("discarding", len(selected), as_json, work)
    _report(as_json, "discarded", counts[0], f"discarded {counts[0]} dead letter(s)")


def _report(as_json: bool, key: str, value: object, text: str) -> None:
    from stalwart.cli.output import console, print_json

    if as_json:
        print_json({key: value})
    else:
        console.print(text)
        if isinstance(value, list):
            for row in value:
                console.print(f"  {row['id']}: {row['task_id']} -> {row['new_task_id']}")
