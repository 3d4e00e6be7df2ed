"""Two hosts that run `flask db upgrade` at the same instant take turns: both end at the newest migration, both exit 0.

Real `flask` processes on a real PostgreSQL server (a scratch database of each test's own) and on a SQLite file.
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.ops.migrations import migration_lock, migrations_head
from config import database_url
from tests.support.servers import ROOT

FLASK = Path(sys.executable).with_name("flask")
ADMIN_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
HEAD = migrations_head(str(ROOT / "app"))
WAITING = "Waiting for another host's migration to finish…"

pytestmark = pytest.mark.slow


@pytest.fixture(params=["postgresql", "sqlite"])
def new_database(request, tmp_path) -> Iterator:
    """Return a function that makes an empty database and returns its URL; drop the PostgreSQL ones afterwards."""
    made = []

    def make() -> str:
        name = f"microblog_turns_{uuid.uuid4().hex[:12]}"
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / (name + '.db')}"
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(database_url(ADMIN_URL, "")).set(database=name).render_as_string(hide_password=False)

    yield make
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_upgrade(url: str, host: str, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """Start `flask db upgrade` as a host of the site would; return the process and the file of its output."""
    env = {**os.environ, "FLASK_APP": "microblog.py", "FLASK_DEBUG": "0", "SECRET_KEY": uuid.uuid4().hex,
           "DATABASE_URL": url, "HOST_NAME": host, "LOG_DIR": str(tmp_path / host)}  # fmt: skip
    output = tmp_path / f"{host}-{uuid.uuid4().hex[:6]}.out"
    with output.open("w") as sink:
        process = subprocess.Popen([str(FLASK), "db", "upgrade"], cwd=ROOT, env=env, stdout=sink, stderr=sink)
    return process, output


def version_of(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("round_", [1, 2, 3])
def test_two_hosts_upgrading_at_once_both_end_at_head(new_database, tmp_path, round_):
    url = new_database()

    hosts = [start_upgrade(url, f"web-{n}", tmp_path) for n in (1, 2)]
    codes = [process.wait(timeout=120) for process, _ in hosts]

    assert codes == [0, 0], "\n".join(output.read_text() for _, output in hosts)
    assert version_of(url) == HEAD


@contextmanager
def lock_held(url: str) -> Iterator[None]:
    """Hold the migration lock as another host's `flask db upgrade` would, from this process."""
    engine = sa.create_engine(url)
    try:
        with migration_lock(engine, on_wait=lambda: None):
            yield
    finally:
        engine.dispose()


def wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert process.poll() is None, f"exited {process.returncode} without waiting:\n{path.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{path.read_text()}"
        time.sleep(0.1)


def test_an_upgrade_waits_while_another_host_migrates_then_runs(new_database, tmp_path):
    url = new_database()

    with lock_held(url):
        process, output = start_upgrade(url, "web-2", tmp_path)
        wait_for_text(output, WAITING, process)
        time.sleep(1)
        assert process.poll() is None  # it waits for its turn: it neither fails nor runs alongside
        assert output.read_text().count(WAITING) == 1

    assert process.wait(timeout=120) == 0, output.read_text()
    assert version_of(url) == HEAD
