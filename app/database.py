"""Engine settings that depend on the database kind, and which database errors are worth a retry."""

from urllib.parse import quote

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.extensions import db

# SQLite says these when the file is busy, gone or read-only: a retry a little later may succeed.
TRANSIENT_SQLITE = ("database is locked", "database table is locked", "unable to open", "readonly", "disk i/o")
# PostgreSQL's SQLSTATE classes and codes of the same kind: connection exceptions, serialization
# failures and deadlocks, a read-only transaction, lock and statement timeouts, shutdowns, no resources.
TRANSIENT_SQLSTATES = ("08", "40001", "40P01", "25006", "55P03", "57014", "57P", "53")


def configure_engine(app: Flask) -> None:
    """Give SQLite connections WAL, a busy timeout and foreign keys, so workers can share it."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            sa.event.listen(engine, "do_connect", lambda *args: _open_existing_file_only(app, *args))


def _sqlite_pragmas(dbapi_connection, _connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
    cursor.execute("PRAGMA busy_timeout=5000")  # wait for the write lock instead of failing
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
    sqlstate = getattr(error.orig, "sqlstate", None)  # psycopg 3
    if sqlstate:
        return sqlstate.startswith(TRANSIENT_SQLSTATES)
    if isinstance(error, OperationalError):
        text = str(error.orig).lower()
        return "sqlite" not in type(error.orig).__module__ or any(phrase in text for phrase in TRANSIENT_SQLITE)
    return False
