"""A PostgreSQL database of one run's own on this machine's server, made at the start and dropped at the end.

Two runs on one server (CI's pass beside a developer's, a benchmark beside the tests, a run killed halfway that
left a backend holding a lock) would otherwise meet in one database. A database is named after its start time,
so one left by a killed run is dropped by the next run a day later.
"""

import time
import uuid

import psycopg
from sqlalchemy.engine import make_url

STALE_AFTER = 86400  # seconds: no run lasts a day


def create_own_database(url: str, prefix: str) -> tuple[str, str, str]:
    """Create a database named `prefix<start>_<random>` on `url`'s server, first dropping that prefix's stale ones.

    Return (the server's admin URL, the database's name, a URL of `url`'s form naming the new database).
    """
    base = make_url(url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"{prefix}{int(time.time())}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as server:
        found = server.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"])
        for (old,) in found.fetchall():
            started = old.removeprefix(prefix).split("_")[0]
            if started.isdigit() and int(started) < time.time() - STALE_AFTER:
                server.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
        server.execute(f'CREATE DATABASE "{name}"')
    return admin, name, base.set(database=name).render_as_string(hide_password=False)


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
