"""`flask errors find` on log files written by real gunicorn workers: text and JSON, across rotation, gzipped."""

import gzip
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from config import Config
from tests.conftest import config_for_tests
from tests.support.servers import gunicorn
from tests.support.smtp import smtp_server
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


def get(url: str) -> str:
    """Request `url`; return the X-Request-ID of the answer."""
    try:
        return urllib.request.urlopen(url, timeout=10).headers["X-Request-ID"]
    except urllib.error.HTTPError as error:
        return error.headers["X-Request-ID"]


@pytest.fixture(scope="module", params=["text", "json"])
def served(request, tmp_path_factory):
    """Run gunicorn (2 workers, rotating at 1.2 kB) through failing and missing pages; return (folder, ids)."""
    folder = tmp_path_factory.mktemp(f"find-{request.param}")
    with smtp_server() as (inbox, port):
        env = {
            "SECRET_KEY": "find-test-secret-key-0123456789abcdef",
            "DATABASE_URL": f"sqlite:///{folder / 'app.db'}",
            "MICROBLOG_ENV": "development",
            "DEMO_ERRORS": "1",
            "LOG_DIR": str(folder / "logs"),
            "LOG_FORMAT": request.param,
            "LOG_MAX_BYTES": "1200",
            "ACCESS_LOG": str(folder / "access.log"),
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(port),
            "ADMINS": "ops@example.com",
            "ALERT_STATE_PATH": str(folder / "alert-state.sqlite3"),
        }
        with gunicorn(folder, env, workers=2) as server:
            ids = {"first": get(server.url + "/demo/error")}
            ids["mentions"] = get(server.url + f"/missing-{ids['first']}")  # another request that names the id
            for n in range(16):
                get(server.url + f"/missing-{n}")  # INFO lines to rotate the file between the failures
            ids["later"] = [get(server.url + "/demo/error") for _ in range(6)]  # each worker logs its first traceback
            ids["missing"] = get(server.url + "/missing-last")
            wait_for(ids["missing"], (folder / "access.log").read_text, what="the last access line")
            inbox.wait_for(1)
    return folder, ids


def find(folder: Path, request_id: str):
    settings = {"LOG_DIR": str(folder / "logs"), "ACCESS_LOG": str(folder / "access.log"),
                "ALERT_STATE_PATH": str(folder / "alert-state.sqlite3")}  # fmt: skip
    result = (
        create_app(config_for_tests(folder, **settings)).test_cli_runner().invoke(args=["errors", "find", request_id])
    )
    return result.exit_code, result.output


def test_find_prints_the_access_line_the_error_and_its_traceback_from_a_rotated_file(served):
    folder, ids = served
    files = sorted((folder / "logs").glob("microblog.log*"))
    first = ids["first"]

    code, output = find(folder, first)

    assert len(files) >= 3, "the test must span rotations"
    assert code == 0, output
    assert re.search(
        rf"microblog\.log\.\d+:\d+\n  \S+ ERROR \S+ \[{first}\] app: Exception on /demo/error \[GET\]", output
    )
    assert "Traceback (most recent call last):" in output and "DemoFailure: Demo failure requested" in output
    assert re.search(
        # gunicorn's access record in the app's layout
        rf"access\.log:\d+ \(access log\)\n  \S+ INFO \S+ \[{first}\] gunicorn\.access: GET /demo/error 500 .* "
        r"client=127\.0\.0\.1",
        output,
    )
    fault_line = r"Fault [0-9a-f]{12}: DemoFailure at app/errors/demo\.py:\w+:\d+\n  new, 7 occurrence\(s\)"
    assert re.search(fault_line, output)


def test_find_points_to_the_traceback_written_for_an_earlier_request(served):
    folder, ids = served
    answers = [find(folder, request_id) for request_id in ids["later"]]
    # A repeat in a window is listed on a summary line in microblog-repeats.log that points back to its fault.
    gated = [
        (code, output)
        for request_id, (code, output) in zip(ids["later"], answers, strict=True)
        if re.search(rf"\[-\] \d+ repeats? of \w+ GET /demo/error 500 from .*; requests: {request_id} \(and ", output)
    ]

    assert len(gated) >= 4  # 6 failures on 2 workers: at most one traceback each
    for code, output in gated:
        assert code == 0, output
        assert "Traceback (most recent call last):" not in output
        assert re.search(
            r"Traceback of fault [0-9a-f]{12}: logged once per window, with request \w+ at \S+:\d+", output
        )


def test_find_reads_gzipped_rotations(served, tmp_path):
    folder, ids = served
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("*.db", "gunicorn-*"))
    for rotated in (copy / "logs").glob("microblog.log.*"):  # as logrotate's `compress` leaves them
        with rotated.open("rb") as plain, gzip.open(rotated.with_name(rotated.name + ".gz"), "wb") as packed:
            shutil.copyfileobj(plain, packed)
        rotated.unlink()

    code, output = find(copy, ids["first"])

    assert code == 0, output
    assert re.search(rf"microblog\.log\.\d+\.gz:\d+\n  \S+ ERROR \S+ \[{ids['first']}\]", output)
    assert "Traceback (most recent call last):" in output


def test_find_prints_the_records_of_a_request_that_did_not_fail(served):
    folder, ids = served
    code, output = find(folder, ids["missing"])
    assert code == 0, output
    assert f"INFO {Config.HOST_NAME} [{ids['missing']}] app: Not found: '/missing-last'" in output
    assert f"INFO {Config.HOST_NAME} [{ids['missing']}] gunicorn.access: GET /missing-last 404 " in output


def test_find_leaves_out_other_requests_that_only_mention_the_id(served):
    folder, ids = served
    code, output = find(folder, ids["first"])
    assert code == 0, output
    assert ids["mentions"] not in output and f"/missing-{ids['first']}" not in output

    code, output = find(folder, ids["first"][:12])  # part of an id is no request's id
    assert code == 1, output
    assert ids["first"] not in output.replace(f"No record of request {ids['first'][:12]}", "")


def test_find_says_so_and_exits_1_when_nothing_matches(served):
    folder, _ = served
    code, output = find(folder, "0123456789abcdef0123456789abcdef")
    assert code == 1
    assert "No record of request 0123456789abcdef0123456789abcdef in" in output
    assert "Check LOG_DIR and ACCESS_LOG" in output
