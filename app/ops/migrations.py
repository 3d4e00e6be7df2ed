"""The migrations: `flask db` (Flask-Migrate's commands, with Alembic loaded only when they run), the lock
that makes two hosts' migrations take turns, and the revisions this code ships, which /readyz compares with
the database's.

A web worker never migrates, and Alembic is 10 MB of its memory (an eighth of a worker), so the app
does not bind Flask-Migrate when it starts. `flask db ...` finds a stand-in instead, which binds
Flask-Migrate to the app and hands over to its commands; tests that migrate call `use_migrations`.
"""

import ast
import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import ScriptInfo

from app.extensions import db


def use_migrations(app: Flask) -> click.Group:
    """Bind Flask-Migrate to `app` (once) and return its `db` command group."""
    from flask_migrate import Migrate
    from flask_migrate.cli import db as commands

    if "migrate" not in app.extensions:
        Migrate(app, db, render_as_batch=True)  # batch mode lets Alembic alter SQLite tables
    return commands


class MigrationCommands(click.Command):
    """Stands for Flask-Migrate's `db` group in `flask --help`; run, it binds Flask-Migrate and hands over."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        commands = use_migrations(parent.ensure_object(ScriptInfo).load_app())
        return commands.make_context(info_name, args, parent=parent, **extra)


def init_app(app: Flask) -> None:
    app.cli.add_command(MigrationCommands("db", help="Perform database migrations (Flask-Migrate)."))


# The advisory lock's key: any fixed number, the same on every host ("microblg" in ASCII). Advisory locks
# belong to one database, so two databases on one server never wait for each other.
POSTGRES_LOCK_KEY = 0x6D6963726F626C67


@contextmanager
def migration_lock(engine: sa.Engine, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the database's migration lock while the block runs; if another host holds it, call `on_wait` and wait.

    Two hosts that start `flask db upgrade` together would both create the same tables, and the second
    fails. With the lock the second waits (a migration may take minutes: waiting is its job, failing
    fast is not), then finds every migration done. Alembic has no lock of its own; migrations/env.py takes this one.
    """
    if engine.dialect.name == "postgresql":
        with _postgres_advisory_lock(engine, on_wait):
            yield
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(f"{engine.url.database}-migrations.lock", on_wait):
            yield
    else:
        yield


@contextmanager
def _postgres_advisory_lock(engine: sa.Engine, on_wait: Callable[[], None]) -> Iterator[None]:
    """Take a session-level advisory lock on a connection of its own.

    Not the migrations' connection, and not a transaction-level lock: the migrations commit, and
    `CREATE INDEX CONCURRENTLY` runs outside any transaction, either of which would end that lock early.
    """
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")  # no transaction left open
    key = {"key": POSTGRES_LOCK_KEY}
    try:
        connection.exec_driver_sql("SET statement_timeout = 0")  # the wait lasts as long as the other's migration
        connection.exec_driver_sql("SET lock_timeout = 0")
        if not connection.scalar(sa.text("SELECT pg_try_advisory_lock(:key)"), key):
            on_wait()
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), key)
        yield
        connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), key)
    finally:
        # Closed, not given back to the pool: that ends the session, and with it a lock an error left held.
        connection.invalidate()
        connection.close()


@contextmanager
def _file_lock(path: str, on_wait: Callable[[], None]) -> Iterator[None]:
    """Take an exclusive flock on a file beside the SQLite database.

    SQLite's own locks end with each transaction, and the migrations commit several. The file stays
    afterwards: removing it would let a third process lock a new file while the second holds the old one.
    """
    with open(path, "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


@cache
def migrations_head(root_path: str) -> str:
    """Return the newest revision of the migrations this code ships (read once: it changes only with the code)."""
    links = migration_links(root_path)
    parents = {parent for down in links.values() for parent in down}
    heads = set(links) - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()


def migrations_revisions(root_path: str) -> frozenset[str]:
    """Return every revision of the migrations this code ships: a revision not among them is a newer release's."""
    return frozenset(migration_links(root_path))


@cache
def migration_links(root_path: str) -> dict[str, tuple[str, ...]]:
    """Map each migration this code ships to the revisions it follows (none for the first, two for a merge).

    Read from the migration files' `revision` and `down_revision`, as Alembic reads them, but without
    importing Alembic (10 MB of every worker's memory, see above). tests/test_health.py checks the head
    found here against Alembic's own.
    """
    links = {}
    for path in (Path(root_path).parent / "migrations" / "versions").glob("*.py"):
        fields = {
            node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            if node.targets[0].id in ("revision", "down_revision")
        }
        down = fields.get("down_revision")
        links[fields["revision"]] = tuple(down) if isinstance(down, tuple | list) else (down,) if down else ()
    return links
