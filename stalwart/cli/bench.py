"""``stalwart bench ...``: the benchmarks (see docs/PERFORMANCE.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

__all__ = ["bench_app"]

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks against plain Celery.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SideConcurrency = Annotated[
    int, typer.Option("-c", "--concurrency", min=1, help="Worker processes of each side.")
]


def _progress(line: str) -> None:
    """A benchmark's progress goes to stderr, so that --json output stays parseable."""
    print(line, file=sys.stderr, flush=True)


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
    as_json: JsonOption = False,
) -> None:
    """Recorder throughput, query latency at 1M rows, drain rate with recording on/off."""
    from stalwart.bench.history import run_history_bench
    from stalwart.cli.output import console, print_json

    results = run_history_bench(
        postgres,
        events=events,
        rows=rows,
        repeat=repeat,
        drain_tasks=drain_tasks,
        rounds=rounds,
        report=_progress,
    )
    if as_json:
        print_json(results)
    else:
        console.print(results)


@bench_app.command("enqueue")
def bench_enqueue(
    tasks: Annotated[
        int, typer.Option("--tasks", min=10, help="Messages per side per round.")
    ] = 5000,
    rounds: Annotated[int, typer.Option("--rounds", min=1)] = 3,
    batch: Annotated[int, typer.Option("--batch", min=1, help="delay_many batch size.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Publishing rate: delay_many vs .delay, and vs plain Celery's .delay."""
    from stalwart.bench.enqueue import run_enqueue_bench
    from stalwart.cli.output import console, print_json

    results = run_enqueue_bench(tasks, rounds, batch, report=_progress)
    if as_json:
        print_json(results)
        return
    for label in ("celery_delay", "stalwart_delay", "bulk"):
        console.print(f"{label:>15}: {results[label]:>10,.0f} messages/s")
    console.print(f"  bulk / .delay: {results['bulk_vs_delay']:.1f}x  (target >= 20x)")
    console.print(f"  bulk / celery: {results['bulk_vs_celery_delay']:.1f}x")


@bench_app.command("flow")
def bench_flow(
    tasks: Annotated[int, typer.Option("--tasks", min=100)] = 3000,
    rounds: Annotated[int, typer.Option("--rounds", min=1)] = 3,
    as_json: JsonOption = False,
) -> None:
    """Drain rate with throttle + quota + concurrency checks vs without; Redis commands/task."""
    from stalwart.bench.flow import run_flow_bench
    from stalwart.cli.output import console, print_json

    results = run_flow_bench(tasks, rounds, report=_progress)
    if as_json:
        print_json(results)
    else:
        console.print(results)


@bench_app.command("overhead")
def bench_overhead(
    tasks: Annotated[int, typer.Option("--tasks", min=10, help="No-op tasks per drain.")] = 20_000,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Alternating rounds.")] = 1,
    concurrency: SideConcurrency = 2,
    as_json: JsonOption = False,
) -> None:
    """Drain rate of plain Celery vs a Stalwart task with retries, dead letters, idempotency."""
    from stalwart.bench.overhead import run_overhead_bench
    from stalwart.cli.output import console, print_json
    from stalwart.settings import Settings

    results = run_overhead_bench(
        Settings.from_env(),
        tasks=tasks,
        rounds=rounds,
        concurrency=concurrency,
        report=_progress,
    )
    if as_json:
        print_json(results)
        return
    for side in ("baseline", "candidate"):
        row = results[side]
        console.print(f"{row['label']:>9}: {row['rate']:>8,.0f} tasks/s  ({row['seconds']:.2f} s)")
    console.print(f"    ratio: {results['ratio']:.3f}  (stalwart / celery, target >= 0.90)")


def _concurrencies(value: str) -> list[int]:
    """``--concurrency 1,2,4``: positive whole numbers, comma-separated."""
    try:
        counts = [int(part) for part in value.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise typer.BadParameter(f"{value!r} is not a list of worker counts such as 1,2,4")
    return list(dict.fromkeys(counts))


def _check_concurrencies(value: str) -> str:
    _concurrencies(value)  # a mistake is one line, exit 2, before anything starts
    return value


@bench_app.command("worker")
def bench_worker(
    concurrency: Annotated[
        str,
        typer.Option(
            "-c",
            "--concurrency",
            callback=_check_concurrencies,
            help="Worker counts to compare, e.g. 1,2,4.",
        ),
    ] = "1,2,4",
    tasks: Annotated[int, typer.Option("--tasks", min=10, help="No-op tasks per drain.")] = 10_000,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Rounds per concurrency.")] = 3,
    as_json: JsonOption = False,
) -> None:
    """Drain rate of stalwart worker (supervised, and -P prefork) vs stock Celery prefork."""
    from stalwart.bench.worker import run_worker_bench
    from stalwart.cli.output import console, print_json
    from stalwart.settings import Settings

    results = run_worker_bench(
        Settings.from_env(),
        tasks=tasks,
        rounds=rounds,
        concurrencies=_concurrencies(concurrency),
        report=_progress,
    )
    if as_json:
        print_json(results)
        return
    for row in results["results"]:
        for n, side in enumerate(row["targets"]):
            head = f"-c {row['concurrency']:<3}" if n == 0 else " " * 6
            console.print(
                f"{head} {side['label']:>16}: {side['best']:>8,.0f} tasks/s "
                f"(spread {side['min']:,.0f}-{side['max']:,.0f})  {side['ratio']:.2f}x",
                highlight=False,
            )
    load = ", ".join(f"{x:.2f}" for x in results["load_average"])
    console.print(
        f"best of {results['rounds']} round(s) of {results['tasks']:,} tasks; ratios vs "
        f"{results['baseline']}; load average at the end: {load}",
        highlight=False,
    )


@bench_app.command("latency")
def bench_latency(
    tasks: Annotated[
        int, typer.Option("--tasks", min=1, help="Messages per side per round, one at a time.")
    ] = 500,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Alternating rounds.")] = 1,
    concurrency: SideConcurrency = 2,
    as_json: JsonOption = False,
) -> None:
    """Enqueue-to-start latency p50/p99 on an idle worker: stock Celery vs stalwart worker."""
    from stalwart.bench.latency import run_latency_bench
    from stalwart.cli.output import console, print_json
    from stalwart.settings import Settings

    results = run_latency_bench(
        Settings.from_env(),
        tasks=tasks,
        rounds=rounds,
        concurrency=concurrency,
        report=_progress,
    )
    if as_json:
        print_json(results)
        return
    for label in ("celery", "stalwart"):
        row = results[label]
        console.print(
            f"{label:>9}: p50 {row['p50_ms']:>7.2f} ms  p99 {row['p99_ms']:>7.2f} ms  "
            f"max {row['max_ms']:>7.2f} ms  ({row['samples']} tasks)",
            highlight=False,
        )
    console.print(
        f"    ratio: p50 {results['p50_ratio']:.2f}x  p99 {results['p99_ratio']:.2f}x  "
        f"(stalwart / celery, -c {results['concurrency']})",
        highlight=False,
    )


@bench_app.command("cli")
def bench_cli(
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Runs of each command.")] = 7,
    tasks: Annotated[int, typer.Option("--tasks", min=0, help="Tasks of history.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Start-up time of stalwart commands vs 'celery --help' (same rounds), as ratios."""
    from stalwart.bench.cli import run_cli_bench
    from stalwart.cli.output import console, print_json

    results = run_cli_bench(rounds=rounds, tasks=tasks, report=_progress)
    if as_json:
        print_json(results)
        return
    for row in results["commands"]:
        target = "" if row["target"] is None else f"  target <= {row['target']}x"
        verdict = "" if row["target"] is None else ("  met" if row["met"] else "  MISSED")
        console.print(
            f"{row['command']:>18}: median {row['median']:.3f}s "
            f"(min {row['min']:.3f}, max {row['max']:.3f})  {row['ratio']:.2f}x{target}{verdict}"
            f"  | cpu {row['cpu_median']:.3f}s {row['cpu_ratio']:.2f}x",
            highlight=False,
        )
    load = ", ".join(f"{x:.2f}" for x in results["load_average"])
    console.print(f"{results['rounds']} rounds; load average at the end: {load}", highlight=False)


@bench_app.command("console")
def bench_console(
    rows: Annotated[int, typer.Option("--rows", min=100)] = 1_000_000,
    repeat: Annotated[int, typer.Option("--repeat", min=1)] = 50,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Timing rounds per store.")] = 3,
    postgres: Annotated[
        str | None,
        typer.Option("--postgres", help="PostgreSQL server URL (a database is created)."),
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    sqlite_only: Annotated[bool, typer.Option("--sqlite-only", help="Skip PostgreSQL.")] = False,
    as_json: JsonOption = False,
) -> None:
    """p50/p95 of every console page and API listing at ROWS history rows (SQLite, PostgreSQL)."""
    from stalwart.bench.console import run_console_bench
    from stalwart.cli.output import console, print_json

    results = run_console_bench(
        rows=rows,
        repeat=repeat,
        rounds=rounds,
        postgres=None if sqlite_only else postgres,
        report=_progress,
    )
    if as_json:
        print_json(results)
    else:
        console.print(results)
