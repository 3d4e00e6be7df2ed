"""Make the test database really unreachable for a while, and bring it back."""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from app.extensions import db


@contextmanager
def database_unreachable(app: Flask):
    """Inside the block no new connection to the app's database can be opened."""
    with app.app_context():
        engine = db.engine
    engine.dispose()  # drop pooled connections: the next request must connect anew
    if engine.dialect.name == "sqlite":
        with replaced_by_directory(Path(engine.url.database)):
            yield
    else:
        with postgres_connections_refused(engine):
            yield
    engine.dispose()


@contextmanager
def replaced_by_directory(path: Path):
    """Put an empty directory where the file `path` was: opening it fails, even for root."""
    moved = path.with_name(path.name + ".away")
    os.rename(path, moved)
    path.mkdir()  # e.g. SQLite: "unable to open database file"
    try:
        yield
    finally:
        path.rmdir()
        os.rename(moved, path)


@contextmanager
def postgres_connections_refused(engine: sa.Engine):
    name = engine.url.database
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    try:
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


LOCK_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")  # the write lock, held until this process is told to go
print("locked", flush=True)
sys.stdin.read()
"""


@contextmanager
def sqlite_write_lock(path: str | Path):
    """Hold the SQLite file's write lock from another process for the duration of the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.close()  # end of input: the holder exits and SQLite releases the lock
        holder.wait(10)
        holder.stdout.close()
