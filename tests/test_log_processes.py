"""Logs and alerts across real processes: rotation by 4 writers, one shared throttle, fork, gunicorn."""

import gc
import multiprocessing
import re
import urllib.error
import urllib.request
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import create_app
from app.observability.fault_store import RedisStore, SqliteStore, list_faults
from tests.conftest import config_for_tests
from tests.support.alert_progress import follow_ups_claimed, mails_taken_arrived, occurrences_counted
from tests.support.alerting import alert_settings, subject
from tests.support.faulty_views import add_faulty_views
from tests.support.servers import gunicorn
from tests.support.smtp import black_hole
from tests.support.waiting import wait_for, wait_until

pytestmark = pytest.mark.slow
WORKERS = 4
spawn = multiprocessing.get_context("spawn")  # a clean interpreter per process, as gunicorn workers have


def write_lines(tmp_path: Path, settings: dict, worker: int, count: int, start) -> None:
    """In a process of its own: build the app, wait for the others, log `count` numbered lines."""
    app = create_app(config_for_tests(tmp_path, **settings))
    start.wait()
    for line in range(count):
        app.logger.info("worker %d line %d %s", worker, line, "x" * 80)


def test_four_processes_rotating_one_log_lose_and_duplicate_no_line(tmp_path):
    settings = {"LOG_IN_TESTS": True, "LOG_DIR": str(tmp_path / "logs"), "LOG_MAX_BYTES": 50_000,
                "LOG_BACKUP_COUNT": 1000}  # fmt: skip
    count = 1500
    start = spawn.Barrier(WORKERS)
    processes = [spawn.Process(target=write_lines, args=(tmp_path, settings, w, count, start)) for w in range(WORKERS)]

    for process in processes:
        process.start()
    for process in processes:
        process.join(120)

    assert [process.exitcode for process in processes] == [0] * WORKERS
    files = sorted((tmp_path / "logs").glob("microblog.log*"))
    seen = Counter()
    for file in files:
        seen.update(re.findall(r"worker (\d) line (\d+) x", file.read_text(encoding="utf-8")))
    assert len(files) > 20, "the test must go through many rotations"
    assert sum(seen.values()) == WORKERS * count
    assert set(seen.values()) == {1}, "a line was written twice"


def fail_repeatedly(tmp_path: Path, settings: dict, errors: int, stay_for_the_follow_up: bool, start) -> None:
    """In a process of its own: fail `errors` times at once with the others, then exit, or stay up until the
    window's follow-up is due and this process has had its round to claim it."""
    app = create_app(config_for_tests(tmp_path, **settings))

    def boom():
        raise ConnectionError("database at 10.0.0.5 unreachable")

    app.add_url_rule("/boom", "boom", boom)
    client = app.test_client()
    start.wait()
    for _ in range(errors):
        assert client.get("/boom").status_code == 500
    if stay_for_the_follow_up:  # this process may be the one that claims and sends it
        follow_ups_claimed(app)


def run_workers(arguments: tuple) -> list[int]:
    """Run `fail_repeatedly` in WORKERS fresh processes at once; return their exit codes."""
    processes = [spawn.Process(target=fail_repeatedly, args=arguments) for _ in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    return [process.exitcode for process in processes]


def test_workers_sharing_the_throttle_send_one_first_mail_and_one_follow_up(tmp_path, smtp, shared_state):
    inbox, port = smtp
    settings = alert_settings(tmp_path, port, ALERT_WINDOW=2.0, **shared_state)
    exit_codes = run_workers((tmp_path, settings, 5, True, spawn.Barrier(WORKERS)))

    assert exit_codes == [0] * WORKERS
    first, follow_up = inbox.exactly(2)  # every worker has exited: they sent what they were going to send
    assert first["Subject"] == subject("ConnectionError: database at 10.0.0.5 unreachable")
    assert "occurred 19 more times between" in follow_up.get_content()
    assert follow_up["In-Reply-To"] == first["Message-ID"]


def shared_faults(settings: dict) -> list:
    """Return the faults in the shared alert state the settings name (SQLite file or Redis)."""
    if settings.get("ALERT_STATE_URL"):
        store = RedisStore(settings["ALERT_STATE_URL"], settings["ALERT_STATE_PREFIX"])
    else:
        store = SqliteStore(settings["ALERT_STATE_PATH"])
    return list_faults(store)


def test_workers_exiting_mid_window_leave_every_repeat_counted_in_the_shared_state(tmp_path, smtp, shared_state):
    inbox, port = smtp
    settings = alert_settings(tmp_path, port, **shared_state)  # the default 10-minute window: no follow-up yet
    exit_codes = run_workers((tmp_path, settings, 40, False, spawn.Barrier(WORKERS)))  # 40 errors each, then exit
    [fault] = shared_faults(settings)

    assert exit_codes == [0] * WORKERS
    [first] = inbox.exactly(1)  # every worker has exited: they sent what they were going to send
    assert first["Subject"] == subject("ConnectionError: database at 10.0.0.5 unreachable")
    assert fault.repeats == WORKERS * 40 - 1  # counted in each worker's memory, written as it stopped


class Payload:
    """Stands for what a view holds in its locals: a session, a large query result, a user."""


def queue_an_alert_behind_a_hung_relay(tmp_path: Path, settings: dict, results) -> None:
    """In a process of its own (no test harness keeping log records): queue an alert, report what it keeps."""
    payloads = []

    def leaky():
        payload = Payload()
        payloads.append(weakref.ref(payload))
        raise LookupError("failed while holding a payload")

    with black_hole() as hole:
        app = create_app(config_for_tests(tmp_path, **{**settings, "MAIL_PORT": hole.port, "MAIL_TIMEOUT": 2}))
        add_faulty_views(app)
        app.add_url_rule("/leaky", "leaky", leaky)
        client = app.test_client()
        client.get("/boom")
        hole.wait_for_connection()  # the listener is busy with the first alert: the next one waits on the queue
        client.get("/leaky")
        gc.collect()
        results.put((app.extensions["alerts"].worker.qsize(), payloads[0]() is not None))


def test_a_queued_alert_keeps_none_of_its_request_objects_alive(tmp_path):
    results = spawn.Queue()
    arguments = (tmp_path, alert_settings(tmp_path, port=0), results)  # the child's own black hole is the relay
    child = spawn.Process(target=queue_an_alert_behind_a_hung_relay, args=arguments)

    child.start()
    queued, payload_alive = results.get(timeout=60)
    child.join(30)

    assert child.exitcode == 0
    assert queued == 1
    assert not payload_alive  # the queued alert holds the traceback's places, not its frames


def request_then_exit(app) -> None:
    """In a forked child: fail once, then flush the alerts the way a gunicorn worker does at exit.

    multiprocessing ends a forked child with os._exit, which skips atexit; gunicorn workers exit
    through sys.exit, which runs it.
    """
    assert app.test_client().get("/boom").status_code == 500
    app.extensions["alerts"].close()


def test_an_app_built_before_a_fork_alerts_from_the_child(tmp_path, smtp):
    inbox, port = smtp
    app = create_app(config_for_tests(tmp_path, **alert_settings(tmp_path, port)))  # like gunicorn --preload
    add_faulty_views(app)
    child = multiprocessing.get_context("fork").Process(target=request_then_exit, args=(app,))

    child.start()
    child.join(30)

    assert child.exitcode == 0
    [mail] = inbox.wait_for(1)
    assert f"(pid {child.pid})" in mail.get_content()
    startups = (tmp_path / "logs" / "microblog.log").read_text().count("Microblog startup")
    assert startups == 2  # the parent when it built the app, the child when it was forked


def gunicorn_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """Settings for gunicorn serving /demo/error, logging to stdout and mailing the SMTP server at `port`."""
    return {
        "SECRET_KEY": "gunicorn-test-secret-key-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "MICROBLOG_ENV": "development",  # /demo/error is refused in production
        "DEMO_ERRORS": "1",
        "LOG_TO_STDOUT": "1",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "ADMINS": "ops@example.com",
        "ALERT_STATE_PATH": str(tmp_path / "alert-state.sqlite3"),
        **extra,
    }


def wait_for_output(server, text: str, count: int) -> None:
    wait_for(lambda output: output.count(text) >= count, server.output, 30.0, what=f"{text!r} {count} times")


def get_status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


def test_gunicorn_workers_log_each_record_once_to_stdout_and_mail_once(tmp_path, smtp):
    inbox, port = smtp
    env = gunicorn_env(tmp_path, port)
    with gunicorn(tmp_path, env, workers=WORKERS) as server:
        wait_for_output(server, "Microblog startup", WORKERS)  # every worker is up and can take a request
        with ThreadPoolExecutor(6) as pool:  # concurrent, so that several workers serve them
            statuses = list(pool.map(get_status, [server.url + "/demo/error"] * 12))
        [mail] = inbox.wait_for(1)
    output = server.output()

    assert server.process.returncode == 0  # stopped, not killed: each worker mailed what it held as it exited
    inbox.exactly(1)
    assert statuses == [500] * 12
    assert mail["Subject"] == subject("DemoFailure: Demo failure requested at /demo/error")
    # Each worker's first is the full record; the others are summed up in lines pointing back to it.
    repeats = sum(int(n) for n in re.findall(r"\[-\] (\d+) repeats? of \w+ GET /demo/error 500 ", output))
    assert output.count("Exception on /demo/error [GET]") + repeats == 12
    assert output.count("Microblog startup") == WORKERS
    serving = set(re.findall(r"gunicorn\.access: GET /demo/error 500 .* pid=(\d+)", output))
    assert len(serving) >= 2, "the failing requests should have been spread over several workers"
    assert "gunicorn-test-secret-key" not in output


def occurrences_told(inbox) -> int:
    """Add up the occurrences the mails tell of: one per first mail, the count of each follow-up."""
    total = 0
    for mail in inbox.messages():
        counted = re.search(r"occurred (\d+) (?:more )?times", mail.get_content())
        total += int(counted.group(1)) if counted else 1
    return total


def test_an_error_storm_on_gunicorn_is_mailed_with_every_occurrence_counted(tmp_path, smtp):
    inbox, port = smtp
    env = gunicorn_env(tmp_path, port, ALERT_WINDOW="1")  # the storm spans windows: mails must add up
    errors = 400
    with gunicorn(tmp_path, env, workers=2) as server:
        wait_for_output(server, "Microblog startup", 2)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(get_status, [server.url + "/demo/error"] * errors))
        state = SqliteStore(env["ALERT_STATE_PATH"])
        fingerprint = inbox.wait_for(1)[0]["X-Microblog-Fingerprint"]
        occurrences_counted(state, fingerprint, errors, timeout=20)  # an occurrence counted twice adds to them
        # The last window's follow-up is claimed once every worker has written its counts (the claim delay).
        wait_until(lambda: not list_faults(state)[0].repeats, what="no repeats left for a follow-up")
        mails_taken_arrived(state, inbox)
        told = occurrences_told(inbox)

    assert statuses == [500] * errors
    assert told == errors
    assert any(mail["Subject"].startswith("Re: ") for mail in inbox.messages())  # repeats were folded
