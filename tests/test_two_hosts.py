"""Two hosts, one site: two real gunicorn instances with their own log folders, files and HOST_NAME, on one
PostgreSQL database, one Redis (SHARED_STORE_URL) and one real SMTP server, as an operator runs them.

Each `flask` command is run as on its host: a process of its own with that host's environment.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app import create_app
from app.observability.failures import FailureStore
from tests.conftest import REDIS, redis_keys
from tests.support.servers import ROOT, Server, gunicorn
from tests.support.smtp import Inbox, smtp_server
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

FLASK = Path(sys.executable).with_name("flask")
SERVER_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
WINDOW = 2  # seconds of an alert window: short, so that the follow-up and a new window come within the test


@contextmanager
def scratch_database():
    """Create an empty PostgreSQL database on the test server; yield its URL; drop it afterwards."""
    name = f"microblog_hosts_{uuid.uuid4().hex[:12]}"
    admin = make_url(SERVER_URL).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as server:
        server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as server:
            server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@dataclass
class Host:
    name: str
    env: dict[str, str]
    server: Server | None = None

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a `flask` command as this host's operator would."""
        result = self.start_flask(*args)
        stdout, stderr = result.communicate(timeout=60)
        if check:
            assert result.returncode == 0, stdout + stderr
        return subprocess.CompletedProcess(result.args, result.returncode, stdout, stderr)

    def start_flask(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(FLASK), *args], cwd=ROOT, env={**os.environ, **self.env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip

    def get(self, path: str, cookie: str = "") -> tuple[int, dict, str]:
        request = urllib.request.Request(self.server.url + path, headers={"Accept": "text/html", "Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()


@dataclass
class Site:
    a: Host
    b: Host
    inbox: Inbox
    database: str


def host_settings(folder: Path, name: str, database: str, prefix: str, smtp_port: int) -> dict[str, str]:
    """One host's environment: the site's shared settings, and its own name, log folder and files."""
    own = folder / name
    own.mkdir()
    return {
        "SECRET_KEY": "two-hosts-secret-key-0123456789abcdef",
        "MICROBLOG_ENV": "development",
        "DEMO_ERRORS": "1",
        "DATABASE_URL": database,
        "SHARED_STORE_URL": REDIS,
        "SHARED_STORE_PREFIX": prefix,
        "HOSTS": "web-a,web-b",
        "HOST_NAME": name,
        "LOG_DIR": str(own / "logs"),
        "ACCESS_LOG": str(own / "access.log"),
        "INSTANCE_PATH": str(own / "instance"),  # its own files, as on a machine of its own
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "ADMINS": "ops@example.com",
        "ALERT_WINDOW": str(WINDOW),
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-hosts")
    with redis_keys() as prefix, scratch_database() as database, smtp_server() as (inbox, port):
        a = Host("web-a", host_settings(folder, "web-a", database, prefix, port))
        b = Host("web-b", host_settings(folder, "web-b", database, prefix, port))
        both_migrate_at_once(a, b)
        with gunicorn(folder / "web-a", a.env) as a.server, gunicorn(folder / "web-b", b.env) as b.server:
            yield Site(a, b, inbox, database)


def both_migrate_at_once(a: Host, b: Host) -> None:
    """Start `flask db upgrade` on both hosts at the same instant, as two hosts of a deploy may: both end at head."""
    upgrades = [a.start_flask("db", "upgrade"), b.start_flask("db", "upgrade")]
    outputs = [upgrade.communicate(timeout=60) for upgrade in upgrades]
    assert [upgrade.returncode for upgrade in upgrades] == [0, 0], outputs


def test_two_hosts_migrating_at_once_both_end_at_head(tmp_path, site):
    for attempt in range(3):  # on an empty database each time: the race hit one round in two or three without the lock
        with scratch_database() as database:
            a, b = (
                Host(name, {**host.env, "DATABASE_URL": database})
                for name, host in [("web-a", site.a), ("web-b", site.b)]
            )
            both_migrate_at_once(a, b)
            assert "(head)" in a.flask("db", "current").stdout, f"round {attempt + 1}"


def test_after_a_newer_release_migrates_both_hosts_of_the_older_stay_ready(site):
    assert site.a.get("/readyz")[0] == site.b.get("/readyz")[0] == 200
    current = site.a.flask("db", "current").stdout.split()[0]
    with psycopg.connect(site.database, autocommit=True) as database:
        database.execute("UPDATE alembic_version SET version_num = 'f0a1b2c3d4e5'")  # a newer release's revision
        try:
            assert site.a.get("/readyz")[0] == site.b.get("/readyz")[0] == 200  # in the pool through the roll
            assert site.a.get("/explore")[0] == 200
        finally:
            database.execute("UPDATE alembic_version SET version_num = %s", [current])


def faults(host: Host) -> list[dict]:
    return json.loads(host.flask("errors", "list", "--json").stdout)


def test_a_storm_across_both_hosts_sends_one_mail_and_a_mute_on_one_holds_on_the_other(site):
    for n in range(30):
        assert (site.a if n % 2 else site.b).get("/demo/error")[0] == 500

    first, follow_up = site.inbox.wait_for(2, timeout=WINDOW + 10)  # the first at once, the follow-up after the window
    assert "DemoFailure" in first["Subject"]
    assert "occurred 29 more times between" in follow_up.get_content()  # both hosts' repeats: no other mail for them
    [fault] = faults(site.b)
    assert fault["count"] == 30 and sorted(fault["hosts"]) == ["web-a", "web-b"]

    site.a.flask("errors", "mute", fault["fingerprint"], "--for", "1h")
    wait_until(lambda: faults(site.b)[0]["state"] == "muted", what="the mute seen from web-b")
    wait_until(lambda: faults(site.b)[0]["last_seen"] + WINDOW < time.time(), what="the window's end")
    for _ in range(5):
        site.b.get("/demo/error")  # a new window: unmuted, its first occurrence would be mailed

    wait_until(lambda: faults(site.a)[0]["count"] == 35, what="web-b's occurrences in the shared fault list")
    # Counted means decided: a mail, had web-b decided one, would be on its way. Its workers cannot be waited on.
    site.inbox.stays_at(2, 1.0)


def test_maintenance_on_one_host_closes_the_other_within_a_second_with_one_pass(site):
    switched = site.a.flask("maintenance", "on", "--until", "+30m", "--message", "Moving the database.")
    try:
        wait_until(lambda: site.b.get("/explore")[0] == 503, timeout=3, what="web-b closed")  # each worker: 1 s
        status, headers, page = site.b.get("/explore")
        assert "Retry-After" in headers and "Moving the database." in page
        pass_cookie = switched.stdout.strip().rsplit("\n", 1)[-1].split()[-1]  # name=value, the last word printed
        assert site.b.get("/explore", cookie=pass_cookie)[0] == 200  # the one pass, printed on web-a
    finally:
        site.a.flask("maintenance", "off")
    wait_until(lambda: site.b.get("/explore")[0] == site.a.get("/explore")[0] == 200, timeout=3, what="both open")


def test_find_on_one_host_shows_the_other_hosts_failed_request_and_names_it(site):
    status, headers, _ = site.b.get("/demo/error")
    reference = headers["X-Request-ID"]
    assert status == 500

    failures = FailureStore(REDIS, site.a.env["SHARED_STORE_PREFIX"] + "failures")
    wait_until(lambda: failures.find(reference), what="the failure in the shared store")  # written off the request
    output = site.a.flask("errors", "find", reference).stdout
    assert "Failed on host web-b at " in output and "GET /demo/error, fault " in output
    assert "Its log records and traceback are on web-b: run this command there." in output
    assert reference in site.b.flask("errors", "find", reference).stdout  # and there they are


def test_a_host_keeps_its_own_files_in_its_instance_path(tmp_path, monkeypatch):
    monkeypatch.delenv("INSTANCE_PATH", raising=False)
    assert create_app({}).instance_path == str(ROOT / "instance")  # unset: the checkout's, wherever the command runs

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "web-a"))

    app = create_app({"SHARED_STORE_URL": ""})

    assert app.instance_path == str(tmp_path / "web-a")
    assert app.extensions["maintenance"].path == str(tmp_path / "web-a" / "maintenance.json")
