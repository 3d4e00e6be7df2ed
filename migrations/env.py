"""Alembic environment for Flask-SQLAlchemy 3: the engine and metadata come from the app."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from app.ops.migrations import migration_lock

config = context.config
# Keep the app's own loggers working when migrations run inside it (tests, `flask db upgrade`).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline():
    """Emit the SQL to stdout instead of running it."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run the migrations on a connection from the app's engine."""

    def skip_empty_autogenerate(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty_autogenerate)
    # Hosts that run this at the same time take turns; the second finds the work done.
    waiting = "Waiting for another host's migration to finish…"
    with migration_lock(db.engine, on_wait=lambda: logger.info(waiting)), db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


creating, current_app.config["SQLITE_CREATE_FILE"] = current_app.config["SQLITE_CREATE_FILE"], True
try:  # migrations are the one place a SQLite database file may be created
    if context.is_offline_mode():
        run_migrations_offline()
    else:
        run_migrations_online()
finally:
    current_app.config["SQLITE_CREATE_FILE"] = creating
