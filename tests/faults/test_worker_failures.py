"""When the worker itself fails, under real gunicorn with a 3 s timeout: a request past its deadline, a
database lock held by another process, a worker killed while serving, a request stuck in C.

One server for the module: 2 workers, `--timeout 3` on the command line (the ladder gives a 2 s request
deadline and a 1 s database wait), LOG_FORMAT=json on stdout, alert mail to a real SMTP server. The last
test reads everything gunicorn wrote during the module: every line must be a JSON object, and no secret
the tests sent may appear in any of them.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import RemoteDisconnected

import pytest

from tests.faults.conftest import HTML, logged_in_visitor
from tests.support.raw_http import request_head, send_body_slowly
from tests.support.secrets import PLANTED_PASSWORD, PLANTED_SECRETS, PLANTED_TOKEN
from tests.support.visitor import Visitor
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def inflight(tmp_path_factory):
    """The folder where each worker publishes the request it serves (MICROBLOG_INFLIGHT_DIR)."""
    return tmp_path_factory.mktemp("inflight")


@pytest.fixture(scope="module")
def site(serve, mail_inbox, inflight):
    _, port = mail_inbox
    return serve(app="tests.support.stuck_app:app", args=("--timeout", "3"), LOG_FORMAT="json", LOG_TO_STDOUT="1",
                 MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port), ADMINS="ops@example.com", ALERT_WINDOW="600",
                 MICROBLOG_INFLIGHT_DIR=str(inflight))  # fmt: skip


def records(site) -> list[dict]:
    """Every JSON record gunicorn and the app wrote so far (lines that are not JSON are checked at the end)."""
    found = []
    for line in site.server.output().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            pass
    return found


def wait_for_record(site, test, what: str) -> dict:
    def matching(_text: str) -> list[dict]:
        return [record for record in records(site) if test(record)]

    wait_for(lambda text: bool(matching(text)), site.server.output, 15.0, what=what)
    return matching("")[0]


def alerts_about(inbox, text: str, count: int = 1, timeout: float = 15.0) -> list:
    """Return the alert mails whose body holds `text`, once `count` arrived."""
    deadline = time.monotonic() + timeout
    while True:
        mails = [mail for mail in inbox.messages() if text in mail.get_content()]
        if len(mails) >= count or time.monotonic() > deadline:
            return mails
        time.sleep(0.05)


def test_a_request_stuck_in_python_gets_the_503_page_a_log_record_and_one_alert(site, mail_inbox):
    inbox, _ = mail_inbox
    pids = site.worker_pids()
    visitor = Visitor(site.url)

    started = time.monotonic()
    page = visitor.get("/stuck/python", headers={**HTML, "X-Request-ID": "stuck-html"})
    took = time.monotonic() - started
    answer = visitor.get("/stuck/python", headers={**JSON, "X-Request-ID": "stuck-json"})
    problem = visitor.get("/api/stuck/python", headers={"X-Request-ID": "stuck-api"})

    assert page.status == 503 and took < 3.0
    assert page.header("Retry-After") and "took too long" in page.body and "Reference: " in page.body
    assert "stuck-html" in page.body and '<nav class="navbar' in page.body
    assert answer.status == 503 and json.loads(answer.body)["request_id"] == "stuck-json"
    assert problem.status == 503 and problem.header("Content-Type") == "application/problem+json"
    assert json.loads(problem.body)["instance"] == "stuck-api"
    assert site.worker_pids() == pids  # the workers lived on
    record = wait_for_record(site, lambda r: r.get("request_id") == "stuck-html" and r["level"] == "ERROR",
                             "the deadline's log record")  # fmt: skip
    assert record["exception"]["type"] == "RequestDeadlineExceeded"
    assert 'stuck_app.py", line' in record["traceback"] and "in stuck_in_python" in record["traceback"]
    [mail] = alerts_about(inbox, "RequestDeadlineExceeded")
    assert mail["X-Request-ID"] == "stuck-html"
    assert "in stuck_in_python" in mail.get_content()
    # Room for a wrong second mail: each worker decides in its alert thread, which this test cannot flush, and
    # the module's server runs on. The shared state shows those decisions only with the repeats each worker
    # counted, written at its next round: up to 5 s with this window, against half a second here.
    inbox.stays_at(len(inbox.messages()), 0.5)
    assert len(alerts_about(inbox, "RequestDeadlineExceeded", timeout=0)) == 1  # three timeouts, one fault, one mail


# Another process takes the database's write lock, says so, and holds it (argv: the database, seconds).
HOLD_SQLITE_LOCK = """import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""
HOLD_POSTGRES_LOCK = """import psycopg, sys, time
connection = psycopg.connect(sys.argv[1])
connection.execute('LOCK TABLE "user" IN ACCESS EXCLUSIVE MODE')
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_write_lock(url: str, seconds: float) -> subprocess.Popen:
    """Start another process that takes the database's write lock and holds it; return once it holds it."""
    if url.startswith("sqlite"):
        code, target = HOLD_SQLITE_LOCK, url.removeprefix("sqlite:///")
    else:
        code, target = HOLD_POSTGRES_LOCK, url.replace("postgresql+psycopg://", "postgresql://")
    holder = subprocess.Popen([sys.executable, "-c", code, target, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_registering_while_another_process_holds_the_lock_answers_before_gunicorn_kills_the_worker(site, site_database):
    pids = site.worker_pids()
    visitor = Visitor(site.url)
    token_page = "/register"
    visitor.csrf_token(token_page)  # the form is open before the lock is taken
    holder = hold_write_lock(site_database.url, 8)
    try:
        started = time.monotonic()
        fields = {"username": "patient", "email": "patient@example.com", "password": PLANTED_PASSWORD,
                  "password2": PLANTED_PASSWORD}  # fmt: skip
        answer = visitor.submit("/register", fields)
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()

    assert answer.status in (500, 503), answer.status  # the database's error page, not a dropped connection
    assert took < 3.0
    reference = answer.header("X-Request-ID")
    assert f'Reference: <code class="request-id">{reference}</code>' in answer.body
    assert site.worker_pids() == pids
    wait_for_record(site, lambda r: r.get("request_id") == reference and r["level"] == "ERROR", "the lock's record")


def serving_worker(folder, request_id: str, timeout: float = 5.0, published: str | None = None) -> int:
    """Return the pid of the worker whose published request has `request_id` (or holds the text `published`)."""
    published = published or f'"request_id": "{request_id}"'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for slot in folder.glob("*.json"):
            if published in slot.read_text(errors="replace"):
                return int(slot.stem)
        time.sleep(0.02)
    raise AssertionError(f"no worker published {request_id}")


def request_in_background(url: str, headers: dict[str, str]) -> tuple[threading.Thread, list]:
    outcome = []

    def send():
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20) as response:
                outcome.append(response.status)
        except urllib.error.HTTPError as error:
            error.close()
            outcome.append(error.code)
        except Exception as error:  # noqa: BLE001 - the point is what the client got
            outcome.append(error)

    thread = threading.Thread(target=send)
    thread.start()
    return thread, outcome


def test_a_worker_killed_while_serving_is_logged_and_alerted_with_its_request(site, mail_inbox, inflight):
    inbox, _ = mail_inbox
    url = f"{site.url}/stuck/python?seconds=30&token={PLANTED_TOKEN}"
    thread, outcome = request_in_background(url, {"X-Request-ID": "killed-by-test"})
    pid = serving_worker(inflight, "killed-by-test")
    os.kill(pid, signal.SIGKILL)
    thread.join(20)

    assert isinstance(outcome[0], RemoteDisconnected | ConnectionError)
    record = wait_for_record(site, lambda r: r.get("request_id") == "killed-by-test" and r["level"] == "ERROR",
                             "the killed worker's record")  # fmt: skip
    assert record["message"].startswith(f"Worker {pid} killed by SIGKILL while serving GET /stuck/python?seconds=30")
    assert "token=********" in record["message"] and "user anonymous" in record["message"]
    [mail] = alerts_about(inbox, "killed-by-test")
    assert "GET /stuck/python" in mail["Subject"] and mail["X-Request-ID"] == "killed-by-test"
    assert "Method:" in mail.get_content() and "SIGKILL" in mail.get_content()


def test_a_killed_worker_serving_a_long_non_ascii_path_is_reported_with_the_path_cut_not_the_rest(
    site, site_database, inflight
):
    name, visitor = logged_in_visitor(site, site_database)
    user_id = site_database.user(name).id
    path = "/stuck/python/" + "\u00e9" * 600  # six bytes each in the record (\u00e9): more than its slot holds
    url = f"{site.url}{urllib.parse.quote(path)}?seconds=30"
    headers = {"X-Request-ID": "killed-long-path", "Cookie": visitor.cookie_header()}
    thread, outcome = request_in_background(url, headers)
    pid = serving_worker(inflight, "killed-long-path", published='"path": "/stuck/python/')
    slot, user = inflight / f"{pid}.json", f'"user": "{user_id} ({name})"'
    deadline = time.monotonic() + 1  # the view loads its user at once (and the request deadline is 2 s away)
    while user not in slot.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    thread.join(20)

    assert isinstance(outcome[0], RemoteDisconnected | ConnectionError)
    record = wait_for_record(site, lambda r: r["message"].startswith(f"Worker {pid} killed by SIGKILL"),
                             "the killed worker's record")  # fmt: skip
    reported = re.fullmatch(r"Worker \d+ killed by SIGKILL while serving GET (\S+) \(request id killed-long-path, "
                            rf"user {user_id} \({name}\), running [\d.]+ s\)", record["message"])  # fmt: skip
    assert reported, record["message"]
    assert reported[1].startswith("/stuck/python/\u00e9\u00e9") and reported[1].endswith("\u2026")
    assert len(reported[1]) < len(path)
    assert record["request_id"] == "killed-long-path"


def test_a_request_stuck_in_c_past_every_deadline_is_reported_when_gunicorn_kills_its_worker(site, mail_inbox):
    inbox, _ = mail_inbox
    started = time.monotonic()
    thread, outcome = request_in_background(f"{site.url}/stuck/c", {"X-Request-ID": "stuck-in-c"})
    thread.join(20)

    assert isinstance(outcome[0], RemoteDisconnected | ConnectionError)  # nothing to answer with: the worker is gone
    assert time.monotonic() - started > 3.0  # the deadline could not interrupt C; gunicorn's timeout ended it
    record = wait_for_record(site, lambda r: r.get("request_id") == "stuck-in-c" and r["level"] == "ERROR",
                             "the stuck worker's record")  # fmt: skip
    assert "killed by SIGKILL after gunicorn's timeout of 3 s while serving GET /stuck/c" in record["message"]
    [mail] = alerts_about(inbox, "stuck-in-c")
    assert "GET /stuck/c" in mail["Subject"] and mail["X-Request-ID"] == "stuck-in-c"


def test_without_a_deadline_a_worker_aborted_at_gunicorns_timeout_reports_its_request_and_stack(serve, mail_inbox):
    inbox, port = mail_inbox
    unguarded = serve(app="tests.support.stuck_app:app", args=("--timeout", "2"), REQUEST_TIMEOUT="0",
                      LOG_FORMAT="json", LOG_TO_STDOUT="1", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port),
                      ADMINS="ops@example.com")  # fmt: skip
    thread, outcome = request_in_background(f"{unguarded.url}/stuck/python?seconds=30", {"X-Request-ID": "aborted"})
    thread.join(20)

    record = wait_for_record(unguarded, lambda r: r.get("request_id") == "aborted" and r["level"] == "ERROR",
                             "the aborted worker's record")  # fmt: skip
    assert "aborted after gunicorn's timeout of 2 s while serving GET /stuck/python?seconds=30" in record["message"]
    assert "in stuck_in_python" in record["stack"]
    [mail] = alerts_about(inbox, "aborted after gunicorn's timeout")
    assert mail["X-Request-ID"] == "aborted" and "in stuck_in_python" in mail.get_content()


SLOW_BODIES = {
    "form": ("/login", "application/x-www-form-urlencoded", b"username=slow&password=" + b"x" * 30, HTML),
    "api": ("/api/users", "application/json", b'{"username": "slow", "password": "' + b"x" * 20 + b'"}', {}),
}


@pytest.mark.parametrize("kind", SLOW_BODIES)
def test_a_body_sent_byte_by_byte_is_a_408_logged_at_info_and_never_alerted(site, mail_inbox, kind):
    inbox, _ = mail_inbox
    path, content_type, body, accept = SLOW_BODIES[kind]
    request_id = f"slow-body-{kind}"
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "X-Request-ID": request_id, **accept}
    pids = site.worker_pids()

    started = time.monotonic()
    answer, sent = send_body_slowly(site.url, request_head("POST", path.encode(), headers), body, pause=0.25)
    took = time.monotonic() - started

    # The body has half the request deadline (2 s here) to arrive: the worker is back before the deadline fires.
    assert answer.status == 408 and sent < len(body) and took < 2.0, (answer.status, sent, took)
    if kind == "form":
        assert "What you sent arrived too slowly" in answer.text and f">{request_id}</code>" in answer.text
    else:
        assert answer.headers["content-type"] == "application/problem+json"
        assert json.loads(answer.body)["instance"] == request_id
    assert site.worker_pids() == pids
    record = wait_for_record(site, lambda r: r.get("request_id") == request_id and r["logger"] == "app",
                             "the slow body's record")  # fmt: skip
    assert record["level"] == "INFO" and record["message"].startswith(f"Request body too slow on POST {path}: ")
    wait_for_record(site, lambda r: r.get("request_id") == request_id and r["logger"] == "gunicorn.access",
                    "the slow body's access record")  # fmt: skip
    assert [r["level"] for r in records(site) if r.get("request_id") == request_id] == ["INFO", "INFO"]
    # Only an ERROR record is mailed, and there is none; the inbox is watched a second for a wrong mail anyway
    # (an alert thread mails within milliseconds of its record).
    assert alerts_about(inbox, request_id, timeout=1.0) == []


def test_every_line_gunicorn_wrote_is_json_and_no_secret_appears_in_any(site):
    visitor = Visitor(site.url)
    secret_headers = {"Authorization": f"Bearer {PLANTED_TOKEN}", "Cookie": f"session={PLANTED_TOKEN}",
                      "X-Request-ID": "secrets-probe"}  # fmt: skip
    visitor.get(f"/register?token={PLANTED_TOKEN}", headers=secret_headers)
    visitor.get(f"/explore?password={PLANTED_PASSWORD}&api_key={PLANTED_TOKEN}", headers=secret_headers)
    try:
        visitor.get(f"/stuck/python?token={PLANTED_TOKEN}", headers=secret_headers)
    except ConnectionResetError:  # http.client.RemoteDisconnected is one
        pass  # the deadline's 503 or, on a loaded machine, gunicorn's kill a second later: either way its lines count
    visitor.get("/healthz")
    wait_for_record(site, lambda r: r.get("logger") == "gunicorn.access" and "/stuck/python?token" in r.get("path", ""),
                    "the access record of the probe")  # fmt: skip
    lines = site.server.output().splitlines()

    not_json = [line for line in lines if not is_json_object(line)]
    assert not_json == []
    parsed = [json.loads(line) for line in lines]
    assert not [line for line in lines if any(secret in line for secret in PLANTED_SECRETS)]
    access = [r for r in parsed if r["logger"] == "gunicorn.access"]
    assert access and all({"method", "path", "status", "bytes", "duration_ms", "pid", "client", "user_agent",
                           "request_id", "time", "level"} <= set(r) for r in access)  # fmt: skip
    assert any(r["request_id"] == "secrets-probe" and r["path"].startswith("/explore?password=") for r in access)
    assert not [r for r in access if r["path"].startswith("/healthz")]
    gunicorn_own = {r["message"].split(" (pid")[0].split(":")[0] for r in parsed if r["logger"] == "gunicorn.error"}
    assert {"Booting worker with pid", "WORKER TIMEOUT"} <= gunicorn_own
    assert any("traceback" in r and "in stuck_in_python" in r["traceback"] for r in parsed)


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
