"""Real PostgreSQL: connections killed under the app (pg_terminate_backend), in flight and idle in the pool.

Each test works in a scratch database of its own, so it never disturbs the shared `test` database
that the whole suite uses under TEST_DATABASE_URL, nor another run's backends.
"""

import os
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import Post, User
from config import database_url
from tests.conftest import PASSWORD, PASSWORD_HASH, config_for_tests
from tests.support.servers import gunicorn

ADMIN_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
HTML = {"Accept": "text/html"}


def admin_connection() -> psycopg.Connection:
    """Connect to the PostgreSQL server of this machine (`make services` starts it); fail, never skip, if down."""
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


@pytest.fixture
def scratch_url():
    """Create an empty database for this test, return its SQLAlchemy URL, and drop it afterwards."""
    name = f"microblog_scratch_{uuid.uuid4().hex[:12]}"
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(database_url(ADMIN_URL, "")).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin_connection() as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def seeded(tmp_path, scratch_url):
    """Fill the scratch database with the schema, one user and a few posts."""
    app = create_app(config_for_tests(tmp_path, SQLALCHEMY_DATABASE_URI=scratch_url))
    with app.app_context():
        db.create_all()
        ann = User(username="ann", email="ann@example.com", password_hash=PASSWORD_HASH)
        db.session.add_all([ann, *(Post(body=f"post {n}", author=ann) for n in range(5))])
        db.session.commit()
        db.engine.dispose()
    return scratch_url


def terminate_backends(url: str, spare_pid: int | None = None) -> int:
    """Kill every server process connected to the database of `url` (but `spare_pid`); return how many."""
    query = "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s"
    params: list = [make_url(url).database]
    if spare_pid is not None:
        query += " AND pid <> %s"
        params.append(spare_pid)
    with admin_connection() as admin:
        return admin.execute(query, params).fetchone()[0]


@pytest.fixture
def client_on(tmp_path, seeded):
    """Return a function that makes a test client of an app on the seeded database; close its pool afterwards."""
    apps = []

    def make(**settings):
        config = config_for_tests(tmp_path, SQLALCHEMY_DATABASE_URI=seeded, **settings)
        apps.append(create_app(config))
        return apps[-1].test_client()

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_the_first_request_after_the_connections_died_succeeds(client_on, seeded):
    client = client_on()
    assert client.get("/explore").status_code == 200  # leaves a connection in the pool

    assert terminate_backends(seeded) >= 1

    assert client.get("/explore").status_code == 200  # pool_pre_ping found the dead one and reconnected


def test_without_pre_ping_the_first_request_after_would_fail(client_on, seeded):
    # The control for the test above: the same story with pre-ping off ends in the 503 page (a lost connection).
    client = client_on(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False})
    assert client.get("/explore").status_code == 200
    assert terminate_backends(seeded) >= 1

    assert client.get("/explore", headers=HTML).status_code == 503
    assert client.get("/explore").status_code == 200


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=HTML), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for_lock_waiters(url: str, count: int, timeout: float = 15.0) -> None:
    """Return once `count` server processes of the database wait for a lock (the in-flight requests)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
    deadline = time.monotonic() + timeout
    with admin_connection() as admin:
        while time.monotonic() < deadline:
            if admin.execute(query, [make_url(url).database]).fetchone()[0] >= count:
                return
            time.sleep(0.05)
    raise AssertionError(f"{count} requests never reached the database")


@pytest.mark.slow
def test_requests_in_flight_get_the_503_page_and_the_next_ones_succeed(tmp_path, seeded):
    env = {**os.environ, "DATABASE_URL": seeded, "SECRET_KEY": uuid.uuid4().hex, "FLASK_DEBUG": "0"}
    threads = ["--worker-class", "gthread", "--threads", "4"]
    with gunicorn(tmp_path, env, workers=2, args=threads) as server:
        assert {fetch(server.url + "/explore")[0] for _ in range(6)} == {200}
        with psycopg.connect(make_url(seeded).set(drivername="postgresql").render_as_string(False)) as locker:
            # Hold the post table so that the next requests wait inside PostgreSQL, mid-query.
            locker.execute("LOCK TABLE post IN ACCESS EXCLUSIVE MODE")
            with ThreadPoolExecutor(max_workers=4) as pool:
                in_flight = [pool.submit(fetch, server.url + "/explore") for _ in range(4)]
                wait_for_lock_waiters(seeded, 4)
                killed = terminate_backends(seeded, spare_pid=locker.info.backend_pid)
                locker.rollback()
                answers = [future.result() for future in in_flight]
        after = [fetch(server.url + "/explore")[0] for _ in range(10)]
        output = server.output()

    assert killed >= 4
    assert [status for status, _ in answers] == [503] * 4  # a lost connection: try again
    for _, page in answers:
        assert "Please try again in a few seconds" in page
        assert "terminating connection" not in page and "psycopg" not in page and "SELECT" not in page
    assert after == [200] * 10
    assert "Worker timeout" not in output


def set_read_only(url: str, read_only: bool) -> None:
    """Make the database refuse writes (as a standby or a full disk would), then drop its sessions to apply it."""
    setting = "SET default_transaction_read_only = on" if read_only else "RESET default_transaction_read_only"
    with admin_connection() as admin:
        admin.execute(f'ALTER DATABASE "{make_url(url).database}" {setting}')
    terminate_backends(url)


def test_a_read_only_database_is_a_503_that_gives_back_the_post(client_on, seeded):
    client = client_on()
    client.post("/login", data={"username": "ann", "password": PASSWORD})
    typed = "Written while the database refuses writes"

    set_read_only(seeded, True)
    refused = client.post("/", data={"post": typed}, headers=HTML)
    set_read_only(seeded, False)
    resent = client.post("/", data={"post": typed}, headers=HTML)

    page = refused.get_data(as_text=True)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert "nothing was saved" in page and typed in page
    assert resent.status_code == 302
    with psycopg.connect(make_url(seeded).set(drivername="postgresql").render_as_string(False)) as connection:
        assert connection.execute("SELECT count(*) FROM post WHERE body = %s", [typed]).fetchone()[0] == 1


def test_the_test_apps_and_the_servers_the_tests_start_use_one_database(tmp_path):
    """Under TEST_DATABASE_URL the run works in a database of its own (tests/conftest.py): a test app's and a
    gunicorn started with the variable's URL must both be in it, or one migrates what the other never sees."""
    configured = make_url(create_app(config_for_tests(tmp_path)).config["SQLALCHEMY_DATABASE_URI"])
    if os.environ.get("TEST_DATABASE_URL"):
        assert configured.database == make_url(os.environ["TEST_DATABASE_URL"]).database
        assert configured.database.startswith("microblog_run_")
    else:
        assert configured.drivername == "sqlite" and configured.database == str(tmp_path / "test.db")
