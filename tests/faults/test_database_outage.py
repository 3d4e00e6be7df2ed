"""The database goes away under real gunicorn and comes back: 503 pages while down, normal pages right after,
the same worker processes throughout, one alert mail for the whole outage, and no data lost.

SQLite: the file is replaced by a directory (root ignores chmod 000, but nobody opens a directory as a
database). PostgreSQL (TEST_DATABASE_URL): the database refuses new connections and every backend on it is
terminated. That runs on a scratch database of this module's own on the same server, so that other runs
using the shared `test` database are not cut off.
"""

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from config import database_url
from tests.conftest import PASSWORD, config_for_tests
from tests.faults.conftest import HTML, SiteDatabase
from tests.support.outages import database_unreachable
from tests.support.schema import migrate_fresh
from tests.support.visitor import Visitor

pytestmark = pytest.mark.slow

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


@contextmanager
def scratch_postgres_database():
    """Create an empty database next to TEST_DATABASE_URL's; yield its URL; drop it afterwards."""
    name = f"microblog_faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(database_url(POSTGRES_URL, "")).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def site_database(tmp_path_factory):
    """This module's own database: a SQLite file, or a scratch PostgreSQL database under TEST_DATABASE_URL."""
    folder = tmp_path_factory.mktemp("database")
    with scratch_postgres_database() if POSTGRES_URL else _sqlite_url(folder) as url:
        app = create_app(config_for_tests(folder, SQLALCHEMY_DATABASE_URI=url))
        migrate_fresh(app)
        yield SiteDatabase(url, app)
        with app.app_context():
            db.engine.dispose()


@contextmanager
def _sqlite_url(folder: Path):
    yield f"sqlite:///{folder / 'site.db'}"


@pytest.fixture(scope="module")
def site(serve, mail_inbox):
    _, port = mail_inbox
    return serve(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port), ADMINS="ops@example.com", ALERT_WINDOW="600")


def test_while_the_database_is_down_pages_fail_politely_then_recover_without_a_restart(site, site_database, mail_inbox):
    inbox, _ = mail_inbox
    name = site_database.add_user()
    author = Visitor(site.url)
    if POSTGRES_URL:
        # Warm every worker's pool first: the outage must kill connections in use, not only refuse new ones.
        author.log_in(name, PASSWORD)
        assert author.submit("/", {"post": "written before the outage"}).status == 302
        for _ in range(4):
            assert author.get("/explore").status == 200
    # On SQLite the workers have not opened the database yet. A worker that has keeps reading and writing
    # the file it opened even after the file is moved away (SQLite holds the inode, not the name), so an
    # unreachable SQLite file is met by a worker that must open a connection: after a start, or a new one.
    pids = site.worker_pids()

    with database_unreachable(site_database.app):
        for n in range(4):  # enough to meet both workers
            answer = author.get("/explore", headers={**HTML, "X-Request-ID": f"outage-{n}"})
            assert answer.status == 503 and f"outage-{n}" in answer.body
            assert "<title>The site is busy · Microblog</title>" in answer.body
        stranger = Visitor(site.url)  # a load balancer's health check, or someone not logged in
        assert stranger.get("/readyz").status == 503
        assert stranger.submit("/login", {"username": name, "password": PASSWORD}).status == 503

    assert site.worker_pids() == pids
    for _ in range(4):
        assert author.get("/explore").status == 200
    assert Visitor(site.url).get("/readyz").status == 200
    if not POSTGRES_URL:
        author.log_in(name, PASSWORD)
    assert author.submit("/", {"post": "written after the outage"}).status == 302
    assert "written after the outage" in author.get("/").body
    expected = ["written before the outage"] if POSTGRES_URL else []
    assert site_database.posts_of(name) == [*expected, "written after the outage"]
    assert site.worker_pids() == pids

    for n in range(4):  # each worker's first is the full record, later ones listed on a line that points back to it
        full = r"app: Database unavailable on /explore \[GET\] \| OperationalError: "
        site.log.wait_for_failure(f"outage-{n}", full, "GET /explore 503")
    assert not [line for line in site.log.records() if "500 page failed to render" in line]
    [mail] = inbox.wait_for(1)
    assert "OperationalError" in mail["Subject"]
    # The outage's repeats are grouped, not mailed one by one. Room for a wrong second mail: each worker
    # decides in its alert thread, which this test cannot flush, and the module's server runs on. The shared
    # state shows those decisions only with the repeats each worker counted, written at its next round: up
    # to 5 s with this window, against a second here.
    inbox.stays_at(1, seconds=1.0)
