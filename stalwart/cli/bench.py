"""``stalwart bench ...``: the benchmarks (see docs/PERFORMANCE.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from stalwart.cli.output import console, print_json

__all__ = ["bench_app"]

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks against plain Celery.")


@bench_app.command("history")
def bench_history(
    postgres: Annotated[
        str, typer.Option("--postgres", help="PostgreSQL server URL (a database is created).")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    events: Annotated[int, typer.Option("--events", min=4)] = 200_000,
    rows: Annotated[int, typer.Option("--rows", min=1000)] = 1_000_000,
    repeat: Annotated[int, typer.Option("--repeat", min=1)] = 200,
    drain_tasks: Annotated[int, typer.Option("--drain-tasks", min=0)] = 3000,
    rounds: Annotated[int, typer.Option("--rounds", min=1)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recorder throughput, query latency at 1M rows, drain rate with recording on/off."""
    from stalwart.bench.history import run_history_bench

    results = run_history_bench(
        postgres,
        events=events,
        rows=rows,
        repeat=repeat,
        drain_tasks=drain_tasks,
        rounds=rounds,
        report=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if as_json:
        print_json(results)
    else:
        console.print(results)


@bench_app.command("flow")
def bench_flow(
    tasks: Annotated[int, typer.Option("--tasks", min=100)] = 3000,
    rounds: Annotated[int, typer.Option("--rounds", min=1)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Drain rate with throttle + quota + concurrency checks vs without; Redis commands/task."""
    from stalwart.bench.flow import run_flow_bench

    results = run_flow_bench(
        tasks, rounds, report=lambda line: print(line, file=sys.stderr, flush=True)
    )
    if as_json:
        print_json(results)
    else:
        console.print(results)


@bench_app.command("overhead")
def bench_overhead(
    tasks: Annotated[int, typer.Option("--tasks", min=10, help="No-op tasks per drain.")] = 20_000,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Alternating rounds.")] = 1,
    concurrency: Annotated[int, typer.Option("-c", "--concurrency", min=1)] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Drain rate of plain Celery vs a Stalwart task with retries, dead letters, idempotency."""
    from stalwart.bench.overhead import run_overhead_bench
    from stalwart.settings import Settings

    results = run_overhead_bench(
        Settings.from_env(),
        tasks=tasks,
        rounds=rounds,
        concurrency=concurrency,
        report=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if as_json:
        print_json(results)
        return
    for side in ("baseline", "candidate"):
        row = results[side]
        console.print(f"{row['label']:>9}: {row['rate']:>8,.0f} tasks/s  ({row['seconds']:.2f} s)")
    console.print(f"    ratio: {results['ratio']:.3f}  (stalwart / celery, target >= 0.90)")
