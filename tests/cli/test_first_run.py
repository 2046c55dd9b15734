"""A new user's first commands: predictable stores, nothing created by looking, one-line errors.

The data directory is found as git finds its repository: the nearest ``.stalwart``
directory from the current one upward, else ``./.stalwart``. A command that only reads
never creates a store, migrates one or starts the embedded server; when it finds
nothing it says which store it looked at.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from stalwart.db.migrate import HEAD, head_revision
from stalwart.settings import Settings, find_data_dir
from tests.cli.conftest import Shell, expect

NOT_RUNNING = "is not running (no worker, beat or console is using it)"


def test_the_data_directory_is_found_upward_like_git(tmp_path: Path) -> None:
    project = tmp_path / "project"
    deep = project / "src" / "crm"
    deep.mkdir(parents=True)
    assert find_data_dir(deep) == deep / ".stalwart"  # none yet: the current directory's
    (project / ".stalwart").mkdir()
    assert find_data_dir(deep) == project / ".stalwart"
    assert find_data_dir(project) == project / ".stalwart"
    given = Settings.from_env({"STALWART_DATA_DIR": "relative/dir"})
    assert given.data_dir == Path.cwd() / "relative" / "dir"  # made absolute once


def test_read_commands_on_a_fresh_directory_create_nothing_and_say_so(
    shell: Shell, tmp_path: Path
) -> None:
    assert not any((d / ".stalwart").is_dir() for d in (tmp_path, *tmp_path.parents))
    data = tmp_path / ".stalwart"
    how = "the nearest .stalwart directory from here upward, else ./.stalwart"
    no_store = f"no store at {data}/stalwart.db ({how}): nothing has run with it yet"
    server = f"the embedded server of {data} {NOT_RUNNING}"

    expect(shell("tasks", "ls"), 0, f"no tasks: {no_store}")
    expect(shell("dlq", "ls"), 0, f"no dead letters: {no_store}")
    expect(shell("schedules", "ls"), 0, f"no schedules: {no_store}")
    expect(shell("limits"), 0, f"no limits to show: {server}")
    expect(shell("workers"), 0, f"no workers: {server}")
    expect(shell("queues"), 0, f"no queues to show: {server}")
    expect(shell("tasks", "show", "abc"), 2, "", f"stalwart: error: no task 'abc': {no_store}")
    expect(shell("dlq", "show", "7"), 2, "", f"stalwart: error: no dead letter '7': {no_store}")
    # Acting on records that cannot exist: nothing is created either.
    expect(
        shell("dlq", "replay", "7"),
        2,
        "",
        f"stalwart: error: no dead letters to replay: {no_store}",
    )
    expect(
        shell("schedules", "pause", "nightly"),
        2,
        "",
        f"stalwart: error: no schedule named 'nightly': {no_store}",
    )
    expect(shell("tasks", "revoke", "abc"), 2, "", f"stalwart: error: no worker to tell: {server}")
    listing = shell("tasks", "ls", "--json")
    expect(listing, 0, listing.stdout.strip(), f"stalwart: {no_store}")
    assert json.loads(listing.stdout) == {"tasks": [], "next_cursor": None}

    health = shell("health", "--json")
    assert health.returncode == 1, health
    checks = {c["name"]: c["detail"] for c in json.loads(health.stdout)["checks"]}
    assert checks == {
        "broker": f"embedded server ({data}/valkey.sock) {NOT_RUNNING}",
        "coordination": f"embedded server ({data}/valkey.sock) {NOT_RUNNING}",
        "database": f"no store at {data}/stalwart.db: nothing has run with it yet",
        "workers": "not checked: the coordination store is not reachable",
        "recorder": "not checked: the coordination store is not reachable",
    }
    assert not data.exists(), sorted(p.name for p in data.iterdir())


def test_a_subdirectory_reads_the_projects_store(shell: Shell, tmp_path: Path) -> None:
    project = tmp_path / "project"
    deep = project / "src" / "crm"
    deep.mkdir(parents=True)
    store = project / ".stalwart" / "stalwart.db"
    assert head_revision() == HEAD  # the constant read commands compare with
    expect(
        shell("db", "upgrade", cwd=project),
        0,
        f"database at {store} upgraded from empty to {HEAD}",
    )
    expect(shell("dlq", "ls", "--json", cwd=deep), 0, "[]")
    expect(
        shell("db", "upgrade", cwd=deep),
        0,
        f"database at {store} already at {HEAD} ({HEAD} is the newest)",
    )
    assert not (deep / ".stalwart").exists()
    other = tmp_path / "elsewhere"
    expect(
        shell("tasks", "ls", cwd=deep, env={"STALWART_DATA_DIR": str(other)}),
        0,
        f"no tasks: no store at {other}/stalwart.db (STALWART_DATA_DIR): nothing has run "
        "with it yet",
    )
    assert not other.exists()


def test_a_port_out_of_range_is_one_line(shell: Shell) -> None:
    expect(
        shell("health", env={"STALWART_BROKER_URL": "redis://127.0.0.1:99999/0"}),
        2,
        "",
        "stalwart: error: STALWART_BROKER_URL='redis://127.0.0.1:99999/0' is invalid: "
        "the port must be a number from 1 to 65535",
    )
    # Read inside the app's module (-A): the same line, and the password is not echoed.
    url = "postgresql+psycopg://app:s3cret@db.internal:654321/crm"
    expect(
        shell("worker", "-A", "tests.apps.basic:app", env={"STALWART_DATABASE_URL": url}),
        2,
        "",
        "stalwart: error: STALWART_DATABASE_URL='postgresql+psycopg://app:***@db.internal:"
        "654321/crm' is invalid: the port must be a number from 1 to 65535",
    )


def test_an_unreachable_store_is_one_line_without_its_password(shell: Shell) -> None:
    result = shell("limits", env={"STALWART_BROKER_URL": "redis://:s3cret@127.0.0.1:1/0"})
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "stalwart: error: STALWART_BROKER_URL redis://:***@127.0.0.1:1/0 is unreachable: "
    ), line
    assert "s3cret" not in line


def test_a_stray_empty_store_says_to_upgrade(shell: Shell, tmp_path: Path) -> None:
    # What earlier versions left behind after a read command in the wrong directory.
    store = tmp_path / ".stalwart" / "stalwart.db"
    store.parent.mkdir()
    sqlite3.connect(store).close()
    expect(
        shell("tasks", "ls"),
        2,
        "",
        f"stalwart: error: the store at {store} has no Stalwart tables yet: run 'stalwart db "
        "upgrade' (a worker on SQLite does it when it starts)",
    )
    health = shell("health", "--json")
    checks = {c["name"]: c["detail"] for c in json.loads(health.stdout)["checks"]}
    assert checks["database"] == f"schema at None, code expects {HEAD}: run 'stalwart db upgrade'"
