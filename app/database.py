"""Engine settings that depend on the database kind, and which database errors are worth a retry."""

import math
from urllib.parse import quote

import sqlalchemy as sa
from flask import Flask, current_app, request
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.extensions import db
from app.observability.fingerprint import DATABASE_UNAVAILABLE

# SQLite says these when the file is busy, gone or read-only: a retry a little later may succeed.
TRANSIENT_SQLITE = ("database is locked", "database table is locked", "unable to open", "readonly", "disk i/o")
# PostgreSQL's OperationalErrors are transient (lost connections, no resources, lock and statement
# timeouts, shutdowns, serialization failures and deadlocks) but for class 54, "program limit exceeded".
PERMANENT_OPERATIONAL_SQLSTATES = ("54",)
READ_ONLY_TRANSACTION = "25006"  # an InternalError, yet a read-only standby or database is an outage


def bound_postgres_waits(app: Flask) -> None:
    """Give PostgreSQL connections the ladder's database timeout (app/ops/timeouts.py): to connect, and per
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
            sa.event.listen(engine, "do_connect", lambda *args: _open_existing_file_only(app, *args))


def _sqlite_pragmas(dbapi_connection, _connection_record, busy_ms: int = 5000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
    # Wait for the write lock (the ladder's lowest rung), then fail: a 503 that keeps the form (app/errors/handlers.py).
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _open_existing_file_only(app: Flask, dialect, connection_record, cargs, cparams) -> None:
    """Open the SQLite file read-write but never create it: a missing file is an error, not an empty database.

    Only `flask db upgrade` creates it (migrations/env.py turns SQLITE_CREATE_FILE on), and the tests.
    """
    path = cargs[0] if cargs else cparams.get("database", "")
    if app.config["SQLITE_CREATE_FILE"] or not path or path == ":memory:" or path.startswith("file:"):
        return
    cargs[:] = [f"file:{quote(path)}?mode=rw"]
    cparams["uri"] = True


def is_transient(error: SQLAlchemyError) -> bool:
    """Tell whether a database error is one a user may simply retry: busy, unreachable, read-only, timed out."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""  # psycopg 3
    if isinstance(error, OperationalError):
        if "sqlite" in type(error.orig).__module__:
            return any(phrase in str(error.orig).lower() for phrase in TRANSIENT_SQLITE)
        return not sqlstate.startswith(PERMANENT_OPERATIONAL_SQLSTATES)
    return sqlstate == READ_ONLY_TRANSACTION


def log_unavailable(error: SQLAlchemyError) -> None:
    """Log a transient database error as the one fault "Database unavailable", whichever page met it."""
    current_app.logger.error(
        "Database unavailable on %s [%s]", request.path, request.method, exc_info=error,
        extra={"fingerprint": DATABASE_UNAVAILABLE, "fault_name": "Database unavailable", "status": 503},
    )  # fmt: skip


def rollback_quietly() -> None:
    """Roll the session back after an error, never raising: the connection may be gone with the database."""
    try:
        db.session.rollback()
    except Exception:
        # The session is discarded at teardown anyway.
        current_app.logger.warning("Rolling back after an error failed", exc_info=True)
