"""Planned downtime: `flask maintenance on/off`, the 503 page that says when the site is back,
health checks that keep answering, and the team's way through."""

import json
import os
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from app import create_app
from app.extensions import db
from app.ops.maintenance import PASS_COOKIE, SharedFlag, parse_until
from tests.conftest import REDIS
from tests.support.servers import free_port
from tests.support.visitor import page_text

BROWSER = {"Accept": "text/html"}


def clock(until: datetime) -> str:
    """The time beside the wait, as the page says it: its day named only when it is not today (UTC)."""
    same_day = until.date() == datetime.now(UTC).date()
    return f"{until:%H:%M} UTC" if same_day else f"{until:%H:%M} UTC on {until:%A %-d %B}"


@pytest.fixture
def config_overrides(tmp_path):
    return {"MAINTENANCE_FILE": str(tmp_path / "maintenance.json")}


@pytest.fixture
def switch(runner):
    """Return a function that runs `flask maintenance ARGS` and returns its output, failing on a non-zero exit."""

    def run(*args: str) -> str:
        result = runner.invoke(args=["maintenance", *args])
        assert result.exit_code == 0, result.output
        return result.output

    return run


def pass_token(output: str) -> str:
    return output.rsplit(f"{PASS_COOKIE}=", 1)[1].strip()


def test_on_every_page_is_a_503_that_says_when_the_site_is_back(client, switch):
    switch("on", "--until", "+30m", "--message", "We are moving to a bigger database.")
    until = datetime.now(UTC) + timedelta(minutes=30)
    response = client.get("/explore", headers=BROWSER)
    page = " ".join(page_text(response.get_data(as_text=True)).split())

    assert response.status_code == 503
    retry_at = parsedate_to_datetime(response.headers["Retry-After"])  # an HTTP date, not seconds
    assert abs((retry_at - until).total_seconds()) < 60
    assert "<title>Microblog is closed for planned work · Microblog</title>" in page
    assert f"It will be back in about 30 minutes ({clock(retry_at)})." in page
    assert "We are moving to a bigger database." in page
    assert response.headers["X-Request-ID"] not in page  # planned work: there is nothing to look up
    for path in ("/", "/login", "/user/nobody", "/api/posts"):
        assert client.get(path).status_code == 503, path


def test_health_checks_and_the_page_styles_keep_answering(client, switch):
    switch("on", "--until", "+1h")
    assert client.get("/healthz").status_code == 200
    # The test database has no migrations table, so /readyz says so itself (tests/faults checks its 200).
    assert client.get("/readyz").get_json() == {"status": "unavailable", "reason": "migrations pending"}
    for path in ("/static/site.css", "/bootstrap/static/css/bootstrap.min.css", "/favicon.ico"):
        with client.get(path) as response:
            assert response.status_code == 200, path


def test_json_and_api_clients_get_the_503_with_the_plain_detail(client, switch):
    switch("on", "--until", "+1h")
    body = client.get("/explore", headers={"Accept": "application/json"}).get_json()
    assert body["code"] == 503 and body["title"] == "Microblog is closed for planned work"
    problem = client.get("/api/posts")
    assert problem.mimetype == "application/problem+json" and "It will be back in about" in problem.get_json()["detail"]


def test_a_form_sent_meanwhile_shows_what_was_typed_but_not_the_password(client, switch):
    switch("on", "--until", "+1h")
    response = client.post("/login", data={"username": "ann-typed-this", "password": "hunter2-secret"})
    page = page_text(response.get_data(as_text=True))
    assert response.status_code == 503
    assert "What you sent was not saved." in page and ">ann-typed-this</textarea>" in page
    assert "hunter2-secret" not in page


def test_a_form_sent_meanwhile_reads_in_order(client, switch):
    switch("on", "--until", "+30m", "--message", "New disks.")
    response = client.post("/login", data={"username": "ann-typed-this", "password": "hunter2-secret"})
    until = parsedate_to_datetime(response.headers["Retry-After"])
    text = " ".join(re.sub(r"<[^>]+>", " ", page_text(response.get_data(as_text=True))).split())
    sentences = [
        f"We are doing planned work on Microblog. It will be back in about 30 minutes ({clock(until)}).",
        "New disks.",
        "What you sent was not saved. Here is what you typed, to copy and send again once we are back",
        "ann-typed-this",
    ]
    positions = [text.find(sentence) for sentence in sentences]
    assert -1 not in positions and positions == sorted(positions), text
    assert "That is in" not in text


def test_a_window_ending_on_another_day_names_the_day(client, switch):
    switch("on", "--until", "+50h")
    response = client.get("/explore")
    until = parsedate_to_datetime(response.headers["Retry-After"])
    text = " ".join(page_text(response.get_data(as_text=True)).split())
    assert f"It will be back in about 2 days ({clock(until)})." in text


@pytest.mark.parametrize("logged_in", [False, True], ids=["visitor", "logged-in"])
def test_the_menu_has_no_way_into_the_closed_site(client, auth, make_user, switch, logged_in):
    if logged_in:
        auth.login(make_user())
        client.get("/")
    switch("on", "--until", "+30m")
    page = client.get("/explore").get_data(as_text=True)
    menu = re.search(r"<nav .*?</nav>", page, re.S).group(0)
    assert "Microblog" in menu  # the site's name, as plain text
    assert "<a " not in menu and "<form" not in menu and "<button" not in menu  # each would lead to this page


def test_the_team_passes_with_the_cookie_the_command_printed(client, switch):
    output = switch("on", "--until", "+1h")
    client.set_cookie(PASS_COOKIE, "not-the-token")
    assert client.get("/explore").status_code == 503
    client.set_cookie(PASS_COOKIE, pass_token(output))
    assert client.get("/explore").status_code == 200


def test_the_cookie_of_an_earlier_window_does_not_pass(client, switch):
    earlier = pass_token(switch("on", "--until", "+1h"))
    switch("off")
    switch("on", "--until", "+1h")
    client.set_cookie(PASS_COOKIE, earlier)
    assert client.get("/explore").status_code == 503


@pytest.mark.parametrize(("addresses", "status"), [(["127.0.0.1"], 200), (["10.0.0.0/8"], 503), (["::1/128"], 503)])
def test_the_team_passes_from_an_address_of_the_setting(client, app, switch, addresses, status):
    app.config["MAINTENANCE_BYPASS_ADDRESSES"] = addresses
    switch("on", "--until", "+1h")
    assert client.get("/explore").status_code == status  # the test client comes from 127.0.0.1


def test_off_serves_the_site_again(client, switch):
    switch("on", "--until", "+1h")
    assert client.get("/explore").status_code == 503
    assert "Maintenance off" in switch("off")
    assert client.get("/explore").status_code == 200
    assert "Maintenance was not on" in switch("off")


def test_status_says_whether_it_is_on(switch):
    assert "off" in switch("status")
    switch("on", "--until", "2099-01-01T06:00Z", "--message", "New disks.")
    assert switch("status").strip() == "Maintenance is on until 2099-01-01 06:00 UTC. New disks."


def test_past_the_announced_end_the_page_says_nearly_done_and_asks_back_in_minutes(client, app, tmp_path):
    until = datetime.now(UTC) - timedelta(minutes=10)
    (tmp_path / "maintenance.json").write_text(json.dumps({"until": until.isoformat(), "message": "", "pass": "x"}))
    response = client.get("/explore")
    retry_at = parsedate_to_datetime(response.headers["Retry-After"])
    assert response.status_code == 503 and "are nearly done" in page_text(response.get_data(as_text=True))
    assert timedelta(minutes=4) < retry_at - datetime.now(UTC) <= timedelta(minutes=5)


def test_a_window_that_cannot_be_read_is_logged_once_and_the_site_serves(client, tmp_path, caplog):
    """Whatever keeps the workers from reading the window (a file half written by hand, one another account
    wrote 0600, a folder the service may not enter), the site serves and says why once, rather than 500."""
    (tmp_path / "maintenance.json").write_text("{half a fi")
    assert [client.get("/explore").status_code for _ in range(3)] == [200] * 3
    said = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(said) == 1 and "serving as if there were none" in said[0]


def test_a_flag_path_the_service_cannot_reach_is_no_500(client, caplog):
    """stat() failing other than "no such file" (here: a path through a file, as a folder the service may not
    enter fails with PermissionError) is the same case: logged once, served."""
    client.application.extensions["maintenance"].path = "/etc/hostname/maintenance.json"
    assert [client.get("/explore").status_code for _ in range(2)] == [200, 200]
    assert len([r for r in caplog.records if "cannot be read" in r.getMessage()]) == 1


def test_the_flag_file_is_readable_by_the_services_group_whatever_the_umask(switch, tmp_path):
    """Written by another account (root, a deploy user), the window stays readable to the service's group: the
    group of the folder it is in."""
    service_group = 65534 if os.geteuid() == 0 else os.getegid()  # nogroup, which root may give a file to
    os.chown(tmp_path, -1, service_group)
    old = os.umask(0o077)
    try:
        switch("on", "--until", "+30m")
    finally:
        os.umask(old)
    flag = (tmp_path / "maintenance.json").stat()
    assert (flag.st_mode & 0o777, flag.st_gid) == (0o640, service_group)


@pytest.mark.parametrize("until", ["yesterday", "25:99", "2000-01-01T00:00Z"])
def test_a_time_that_is_not_to_come_is_refused(runner, client, until):
    result = runner.invoke(args=["maintenance", "on", "--until", until])
    assert result.exit_code == 2 and "Invalid value" in result.output
    assert client.get("/explore").status_code == 200


def test_until_reads_relative_times_clock_times_and_dates():
    now = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    assert parse_until("+45m", now) == datetime(2026, 11, 30, 21, 45, tzinfo=UTC)
    assert parse_until("+2h", now) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert parse_until("22:30", now) == datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
    assert parse_until("06:00", now) == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # the next 06:00
    assert parse_until("2026-12-01T06:00Z", now) == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


class TestSharedStore:
    """With SHARED_STORE_URL the window is in Redis: `flask maintenance on` on one host closes every host."""

    @pytest.fixture
    def config_overrides(self, redis_prefix):
        return {"SHARED_STORE_URL": REDIS, "SHARED_STORE_PREFIX": redis_prefix}

    @pytest.fixture
    def other_host(self, app, config_overrides):
        """A second app on the same database and shared store, as another host would run."""
        other = create_app({**config_overrides, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
        yield other.test_client()
        with other.app_context():
            db.engine.dispose()

    def test_on_one_host_closes_the_other_within_a_second_with_one_pass(self, other_host, switch):
        assert other_host.get("/explore").status_code == 200

        output = switch("on", "--until", "+30m", "--message", "Moving the database.")
        assert "the shared store" in output

        # Each worker reads the store at most once a second: a second after its last look, it sees the window.
        other_host.application.extensions["maintenance"].read_at -= SharedFlag.FRESH
        assert other_host.get("/explore").status_code == 503
        other_host.set_cookie(PASS_COOKIE, pass_token(output))
        assert other_host.get("/explore").status_code == 200  # the one pass, printed on the first host

        switch("off")
        other_host.delete_cookie(PASS_COOKIE)
        other_host.application.extensions["maintenance"].read_at -= SharedFlag.FRESH
        assert other_host.get("/explore").status_code == 200

    def test_the_store_down_is_said_once_and_the_site_serves(self, client, app, caplog):
        app.extensions["maintenance"] = SharedFlag(f"redis://127.0.0.1:{free_port()}/0", "microblog:maintenance")
        statuses = []
        for _ in range(3):
            app.extensions["maintenance"].read_at = float("-inf")  # each request asks the store again
            statuses.append(client.get("/explore").status_code)
        assert statuses == [200] * 3
        assert len([r for r in caplog.records if "the shared store" in r.getMessage()]) == 1
