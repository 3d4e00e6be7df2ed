"""Engine settings that depend on the database kind."""

import math

import sqlalchemy as sa
from flask import Flask

from app.extensions import db


def bound_postgres_waits(app: Flask) -> None:
    """Give PostgreSQL connections the ladder's database timeout (app/timeouts.py): to connect, and per
    statement when requests have a deadline (not for the CLI, whose migrations may run long)."""
    if sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "postgresql":
        return
    seconds = app.config["DATABASE_TIMEOUT"]
    connect_args = {"connect_timeout": max(2, math.ceil(seconds))}  # libpq's unit is whole seconds, at least 2
    if app.config["REQUEST_TIMEOUT"]:
        connect_args["options"] = f"-c statement_timeout={int(seconds * 1000)}"
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]  # a copy: the Config class's dict is shared by every app
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **options,
        "connect_args": {**options.get("connect_args", {}), **connect_args},
    }


def configure_engine(app: Flask) -> None:
    """Give SQLite connections WAL, a busy timeout and foreign keys, so workers can share it."""
    busy_ms = int(app.config["DATABASE_TIMEOUT"] * 1000)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", lambda connection, record: _sqlite_pragmas(connection, record, busy_ms))


def _sqlite_pragmas(dbapi_connection, _connection_record, busy_ms: int = 5000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")  # wait for the write lock (the ladder's lowest rung), then fail
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
