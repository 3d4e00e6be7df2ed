"""The migrations: `flask db` (Flask-Migrate's commands, with Alembic loaded only when they run), and the
newest revision this code ships, which /readyz compares with the database's.

A web worker never migrates, and Alembic is 10 MB of its memory (an eighth of a worker), so the app
does not bind Flask-Migrate when it starts. `flask db ...` finds a stand-in instead, which binds
Flask-Migrate to the app and hands over to its commands; tests that migrate call `use_migrations`.
"""

import ast
from functools import cache
from pathlib import Path

import click
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


@cache
def migrations_head(root_path: str) -> str:
    """Return the newest revision of the migrations this code ships (read once: it changes only with the code).

    Read from the migration files' `revision` and `down_revision`, as Alembic reads them, but without
    importing Alembic (10 MB of every worker's memory, see above). tests/test_health.py checks the answer
    against Alembic's own.
    """
    revisions, parents = set(), set()
    for path in (Path(root_path).parent / "migrations" / "versions").glob("*.py"):
        fields = {
            node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            if node.targets[0].id in ("revision", "down_revision")
        }
        revisions.add(fields["revision"])
        down = fields.get("down_revision")
        parents.update(down if isinstance(down, tuple | list) else [down])  # a merge names two
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()
