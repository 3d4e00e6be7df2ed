"""`flask db`: Flask-Migrate's commands, with Alembic loaded only when they run.

A web worker never migrates, and Alembic is 10 MB of its memory (issue 15: a worker under 80 MB), so
the app does not bind Flask-Migrate when it starts. `flask db ...` finds a stand-in instead, which binds
Flask-Migrate to the app and hands over to its commands; tests that migrate call `use_migrations`.
"""

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


def register_commands(app: Flask) -> None:
    app.cli.add_command(MigrationCommands("db", help="Perform database migrations (Flask-Migrate)."))
