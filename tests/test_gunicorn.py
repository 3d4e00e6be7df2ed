"""Real gunicorn with gunicorn.conf.py: boot refusals, the access log, SQLite under 4 workers, shared rate limits."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from app.extensions import db
from app.models import User
from bench.site import worker_pids
from tests.conftest import PASSWORD, PASSWORD_HASH, config_for_tests
from tests.support.alerting import subject
from tests.support.schema import migrate_fresh
from tests.support.servers import GUNICORN, ROOT, free_port, gunicorn
from tests.support.visitor import Visitor, csrf_token
from tests.support.waiting import wait_for, wait_until

pytestmark = pytest.mark.slow

SECRET_KEY = "gunicorn-tests-" + uuid.uuid4().hex


def boot(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Start gunicorn as a deployment would and return once it has exited (it is expected to refuse)."""
    command = [str(GUNICORN), "--bind", f"127.0.0.1:{free_port()}", "--workers", "1", "microblog:app"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def deployment_env(tmp_path) -> dict[str, str]:
    """The environment of a deployment on a SQLite file in tmp_path, with a real SECRET_KEY."""
    return {
        **os.environ,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}",
        "FLASK_DEBUG": "0",
    }


@pytest.fixture
def site_db(tmp_path):
    """Create the tables in the deployment's SQLite file; return a function that adds users."""
    app = create_app(config_for_tests(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'site.db'}"))
    migrate_fresh(app)

    def add_users(*names: str) -> None:
        with app.app_context():
            for name in names:
                db.session.add(User(username=name, email=f"{name}@example.com", password_hash=PASSWORD_HASH))
            db.session.commit()

    yield add_users
    with app.app_context():
        db.engine.dispose()


def test_gunicorn_refuses_to_start_with_flask_debug_on(deployment_env):
    result = boot({**deployment_env, "FLASK_DEBUG": "1"})
    assert result.returncode != 0
    assert "Refusing to start: FLASK_DEBUG is on" in result.stderr
    assert "Booting worker" not in result.stderr


@pytest.mark.parametrize("key", ["", "replace-me-with-make-run"])
def test_gunicorn_refuses_to_start_without_a_real_secret_key(deployment_env, key):
    result = boot({**deployment_env, "SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY is missing, empty or a well-known placeholder" in result.stderr
    assert "python -c 'import secrets; print(secrets.token_hex(32))'" in result.stderr


def test_gunicorn_refuses_to_start_with_mail_and_no_site_url(deployment_env):
    """gunicorn.conf.py makes it production; a reset link would then name whatever Host a client sent."""
    result = boot({**deployment_env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(free_port())})
    assert result.returncode != 0
    assert "InsecureConfigError: MAIL_SERVER is set but SITE_URL is not" in result.stderr
    assert "Booting worker" in result.stderr and "Worker failed to boot" in result.stderr


def test_access_log_carries_the_request_id_and_leaves_out_health_checks(tmp_path, deployment_env, site_db):
    behind_a_proxy = {**deployment_env, "PROXY_FIX_X_FOR": "1"}  # whose X-Request-ID is believed
    with gunicorn(tmp_path, behind_a_proxy, workers=1) as server:
        visitor = Visitor(server.url)
        assert visitor.get("/healthz").status == 200
        assert visitor.get("/readyz").status == 200
        assert visitor.get("/explore", headers={"X-Request-ID": "trace-me-42"}).status == 200
        output = wait_for(re.compile(r"INFO \S+ \[trace-me-42\] gunicorn\.access: GET /explore 200 "), server.output)

    assert "/healthz" not in output and "/readyz" not in output


def test_readyz_tells_the_database_file_is_gone_and_no_worker_creates_an_empty_one(tmp_path, deployment_env, site_db):
    database = tmp_path / "site.db"
    with gunicorn(tmp_path, deployment_env, workers=2) as server:
        visitor = Visitor(server.url)
        assert visitor.get("/readyz").status == 200  # one worker holds a connection to the file from now on
        database.rename(tmp_path / "moved-away.db")
        ready = [visitor.get("/readyz") for _ in range(4)]  # both workers: with a pooled connection or without
        pages = [visitor.get("/explore").status for _ in range(4)]

    assert {answer.status for answer in ready} == {503}
    assert all("database file missing or unreadable" in answer.body for answer in ready)
    assert 500 not in pages
    assert not database.exists()  # before: SQLite made an empty 4 KB database here, and /readyz said 200


def test_sqlite_stores_200_concurrent_posts_from_4_workers(tmp_path, deployment_env, site_db):
    names = [f"writer{n}" for n in range(20)]
    site_db(*names)
    # Twenty logins from one address would trip the login limit; this test is about the database.
    env = {**deployment_env, "RATELIMIT_ENABLED": "0"}
    with gunicorn(tmp_path, env, workers=4) as server:
        visitors = {name: Visitor(server.url) for name in names}
        for name, visitor in visitors.items():
            visitor.log_in(name, PASSWORD)
        tokens = {name: csrf_token(visitor.get("/").body) for name, visitor in visitors.items()}
        bodies = [f"post {n} from {names[n % 20]}" for n in range(200)]

        def submit(body: str) -> int:
            name = body.rsplit(" ", 1)[1]
            data = urllib.parse.urlencode({"post": body, "csrf_token": tokens[name]}).encode()
            return visitors[name].send(urllib.request.Request(server.url + "/", data=data)).status

        with ThreadPoolExecutor(max_workers=40) as pool:
            statuses = list(pool.map(submit, bodies))
        output = server.output()

    assert statuses == [302] * 200
    with sqlite3.connect(tmp_path / "site.db") as connection:
        stored = {body for (body,) in connection.execute("SELECT body FROM post")}
        journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert stored == set(bodies)
    assert journal_mode == "wal"
    assert "database is locked" not in output and "Traceback" not in output
    posting_workers = set(re.findall(r"gunicorn\.access: POST / 302 .* pid=(\d+)", output))
    assert len(posting_workers) >= 2  # the writes really came from several processes


REDIS_URL = "redis://127.0.0.1:6379/0"


def wrong_logins(server, count: int) -> list[int]:
    visitor = Visitor(server.url)
    return [visitor.submit("/login", {"username": "ann", "password": "wrong"}).status for _ in range(count)]


def test_workers_share_the_login_limit_through_redis(tmp_path, deployment_env, site_db):
    site_db("ann")
    # A prefix of our own keeps this run's counts apart from other runs on the same Redis.
    env = {**deployment_env, "RATELIMIT_STORAGE_URI": REDIS_URL, "ACCOUNT_RATE_LIMIT": "3 per minute"}
    env["RATELIMIT_KEY_PREFIX"] = uuid.uuid4().hex
    with gunicorn(tmp_path, env, workers=2) as server:
        statuses = wrong_logins(server, 8)

    # With per-worker memory, two workers would let up to six through.
    assert statuses == [200, 200, 200] + [429] * 5


def test_login_still_works_when_redis_is_down(tmp_path, deployment_env, site_db):
    site_db("ann")
    env = {**deployment_env, "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0"}
    env["ACCOUNT_RATE_LIMIT"] = "3 per minute"
    with gunicorn(tmp_path, env, workers=1) as server:
        statuses = wrong_logins(server, 4)

    assert statuses == [200, 200, 200, 429]  # the worker falls back to counting in memory


def boot_json(env: dict[str, str], *args: str) -> list[dict]:
    """Boot gunicorn (expected to refuse) with JSON logs; return its records, failing on any line that is not JSON."""
    command = [str(GUNICORN), "--bind", f"127.0.0.1:{free_port()}", "--workers", "1", *args, "microblog:app"]
    result = subprocess.run(command, cwd=ROOT, env={**env, "LOG_FORMAT": "json", "LOG_TO_STDOUT": "1"},
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    return [json.loads(line) for line in (result.stdout + result.stderr).splitlines()]


def test_a_worker_that_fails_to_boot_is_logged_in_json_and_alerted_once_not_once_per_restart(
    tmp_path, deployment_env, smtp
):
    inbox, port = smtp
    env = {**deployment_env, "SECRET_KEY": "", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port),
           "ADMINS": "ops@example.com", "ALERT_STATE_PATH": str(tmp_path / "alert-state.sqlite3")}  # fmt: skip
    first = boot_json(env, "--timeout", "3")
    second = boot_json({**env, "REQUEST_TIMEOUT": "5"}, "--timeout", "3")  # a process manager restarting it

    [failure] = [r for r in first if r["logger"] == "app" and r["level"] == "ERROR"]
    assert failure["message"].startswith("A gunicorn worker failed: InsecureConfigError: SECRET_KEY is missing")
    assert "create_app" in failure["traceback"]
    assert any(r["message"] == "Reason: Worker failed to boot." for r in first)
    # gunicorn's effective timeout counts, here from the command line, and a setting that breaks the ladder is named.
    assert "Timeouts: database 1 s < request 2 s < gunicorn 3 s < proxy 35 s" in [r["message"] for r in first]
    warnings = [r["message"] for r in second if r["level"] == "WARNING"]
    assert any("REQUEST_TIMEOUT (5 s) is not shorter than gunicorn's timeout (3 s)" in w for w in warnings)
    [mail] = inbox.exactly(1)  # both have exited: they sent what they were going to send
    assert mail["Subject"].startswith(subject("InsecureConfigError: SECRET_KEY is missing", "production"))


def test_a_long_address_nginx_lets_through_reaches_the_app(tmp_path, deployment_env, site_db):
    """nginx takes request lines up to 8 KB (large_client_header_buffers); gunicorn's own limit was 4 KB, so an
    address between the two got gunicorn's bare 414 page instead of the site's answer."""
    with gunicorn(tmp_path, deployment_env, workers=1) as server:
        response = Visitor(server.url).get("/explore?q=" + "x" * 6000)
    assert response.status == 200 and "<title>Explore · Microblog</title>" in response.body


def test_a_slot_folder_others_may_write_in_is_refused_and_the_site_serves_without_slots(
    tmp_path, deployment_env, site_db
):
    """Another account could plant a link there, in place of a worker's slot, and have the worker write through it."""
    folder = tmp_path / "inflight"
    folder.mkdir()
    folder.chmod(0o770)
    with gunicorn(tmp_path, {**deployment_env, "MICROBLOG_INFLIGHT_DIR": str(folder)}, workers=1) as server:
        answer = Visitor(server.url).get("/explore")
        slots = sorted(path.name for path in folder.iterdir())

    assert answer.status == 200
    assert slots == []
    assert f"Not publishing the requests in flight: {folder} is writable by its group or by others" in server.output()


def test_gunicorn_removes_its_slot_folder_when_it_stops_and_not_when_a_worker_restarts(
    tmp_path, deployment_env, site_db
):
    temp = tmp_path / "tmp"
    temp.mkdir()
    with gunicorn(tmp_path, {**deployment_env, "TMPDIR": str(temp)}, workers=1) as server:
        [folder] = temp.glob("microblog-inflight-*")
        [first] = worker_pids(server.process.pid)
        os.kill(first, signal.SIGTERM)  # the worker leaves on its own, as at max_requests; the master starts another
        wait_until(lambda: worker_pids(server.process.pid) not in ([], [first]), 20, "a new worker")
        assert folder.is_dir() and Visitor(server.url).get("/explore").status == 200

    assert server.process.returncode == 0  # stopped, not killed
    assert not folder.exists()
