"""Engine settings that depend on the database kind."""

import sqlalchemy as sa
from flask import Flask

from app.extensions import db


def configure_engine(app: Flask) -> None:
    """Give SQLite connections WAL, a busy timeout and foreign keys, so workers can share it."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, _connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
    cursor.execute("PRAGMA busy_timeout=5000")  # wait for the write lock instead of failing
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
