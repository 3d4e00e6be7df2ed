"""Summaries of repeats across real processes: gunicorn workers in a storm, and an app built before a fork."""

import multiprocessing
import re
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app import create_app
from tests.conftest import config_for_tests
from tests.support.servers import gunicorn
from tests.support.waiting import wait_for, wait_until

pytestmark = pytest.mark.slow
STORM = 600
LISTED = re.compile(r"\[-\] (\d+) repeats? of \w+ GET /\S+ 500 .*; requests: (.*)")
FULL = re.compile(r"\[(\w+)\] app: Exception on /demo/error \[GET\]")


def request_id(url: str) -> str:
    """Request a failing page; return the reference on its error page (its X-Request-ID)."""
    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 500
        return error.headers["X-Request-ID"]
    raise AssertionError(f"{url} did not fail")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def find(folder: Path, reference: str):
    """Run `flask errors find` as an operator on the host would, on the logs in `folder`."""
    settings = {"LOG_DIR": str(folder / "logs"), "ALERT_STATE_PATH": str(folder / "alert-state.sqlite3")}
    return create_app(config_for_tests(folder, **settings)).test_cli_runner().invoke(args=["errors", "find", reference])


def listed_ids(text: str) -> Counter:
    return Counter(request_id for match in LISTED.finditer(text) for request_id in match[2].split())


def test_a_storm_on_gunicorn_lists_each_failing_request_once_and_its_last_second_comes_without_a_request(tmp_path):
    logs = tmp_path / "logs"
    env = {"SECRET_KEY": "repeat-test-secret-key-0123456789abcdef", "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
           "MICROBLOG_ENV": "development", "DEMO_ERRORS": "1", "LOG_DIR": str(logs),
           "ALERT_STATE_PATH": str(tmp_path / "alert-state.sqlite3")}  # fmt: skip
    with gunicorn(tmp_path, env, workers=2) as server:
        wait_for("Microblog startup", lambda: read(logs / "microblog.log"), what="a worker up")
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(request_id, [server.url + "/demo/error"] * STORM))
        full = FULL.findall(read(logs / "microblog.log"))  # each worker's first: the full record

        # No request follows and the workers keep running: their threads write the last second.
        wait_until(lambda: sum(listed_ids(read(logs / "microblog-repeats.log")).values()) >= STORM - len(full),
                   timeout=5, what="every repeat listed")  # fmt: skip
        repeats = read(logs / "microblog-repeats.log")
        middle = next(each for each in ids[STORM // 2 :] if each not in full)
        found = find(tmp_path, middle)

    assert 1 <= len(full) <= 2
    assert listed_ids(repeats) + Counter(full) == Counter(ids)  # every reference in the log, once
    assert sum(int(match[1]) for match in LISTED.finditer(repeats)) == STORM - len(full)
    assert len(repeats.encode()) / (STORM - len(full)) < 1_000_000 / 10 / 1_800  # 1 MB per 10 s at 1,800 a second
    assert found.exit_code == 0, found.output
    assert f"; requests: {middle} (and " in found.output
    assert re.search(r"Traceback of fault \w+: logged once per window, with request \w+ at \S+microblog\.log:\d+",
                     found.output)  # fmt: skip


def fail_then_exit(app, count: int) -> None:
    """In a forked child: fail `count` times, then close the handlers as a gunicorn worker's exit does."""
    client = app.test_client()
    for _ in range(count):
        assert client.get("/divide").status_code == 500
    for handler in app.logger.handlers:
        handler.close()


# The parent's thread that writes summaries is running when it forks, which Python 3.12 warns of; gunicorn's
# master never serves a request, so it forks its workers with no summary gathered and no such thread.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_with_repeats_gathered_writes_only_its_own(tmp_path):
    app = create_app(config_for_tests(tmp_path, LOG_IN_TESTS=True, LOG_DIR=str(tmp_path / "logs")))
    app.add_url_rule("/divide", "divide", lambda: str(1 / 0))
    client = app.test_client()
    parents = [client.get("/divide").headers["X-Request-ID"] for _ in range(3)]  # a full record, two gathered
    child = multiprocessing.get_context("fork").Process(target=fail_then_exit, args=(app, 4))

    child.start()
    child.join(30)
    for handler in app.logger.handlers:
        handler.flush()

    assert child.exitcode == 0
    listed = listed_ids(read(tmp_path / "logs" / "microblog-repeats.log"))
    assert all(listed[request_id] == 1 for request_id in parents[1:])  # written by the parent, not by the child too
    assert sum(listed.values()) == 2 + 4


def fail_and_return(tmp_path: Path, count: int) -> None:
    """In a process of its own: fail `count` times, note the requests' ids in ids.txt and return, leaving the
    exit to write the summary."""
    from app.observability.repeats import RepeatSummaries

    app = create_app(config_for_tests(tmp_path, LOG_IN_TESTS=True, LOG_DIR=str(tmp_path / "logs")))
    app.add_url_rule("/divide", "divide", lambda: str(1 / 0))
    for handler in app.logger.handlers:
        if isinstance(handler, RepeatSummaries):
            handler.interval = 3600.0  # no second closes before the exit: only the exit can write the summary
    client = app.test_client()
    ids = [client.get("/divide").headers["X-Request-ID"] for _ in range(count)]
    (tmp_path / "ids.txt").write_text(" ".join(ids))


def test_a_process_exiting_writes_the_repeats_it_gathered(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=fail_and_return, args=(tmp_path, 5))

    process.start()
    process.join(60)  # a spawned process exits through sys.exit, as a gunicorn worker does: atexit runs

    assert process.exitcode == 0
    first, *repeats = read(tmp_path / "ids.txt").split()
    assert listed_ids(read(tmp_path / "logs" / "microblog-repeats.log")) == Counter(repeats)
