"""An error storm's repeats as summary lines (app/observability/repeats.py): every failing request listed once,
a few dozen bytes each, the last second written though no request follows, and each reference found again."""

import json
import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.support.waiting import wait_for, wait_until

# 1 MB per 10 s at the benchmark's 1,800 failing requests a second (docs/logs-and-alerts.md)
TARGET_BYTES_PER_FAILING_REQUEST = 1_000_000 / 10 / 1_800
SUMMARY = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ERROR (?P<host>\S+) \[-\] (?P<count>\d+) repeats? of "
    r"(?P<fingerprint>[0-9a-f]{12}) (?P<method>\S+) (?P<path>\S+) (?P<status>\d{3}) "
    r"from (?P<from>\d\d:\d\d:\d\d\.\d{3}) to (?P<to>\d\d:\d\d:\d\d\.\d{3}), "
    r"first logged at (?P<first_time>\S+) \[(?P<first_id>[^\]]+)\]; requests: (?P<ids>.*)"
)
COOKIE = "c00kie-value-of-a-session-4f2a9"


@pytest.fixture
def config_overrides(request, tmp_path):
    return {"LOG_IN_TESTS": True, "LOG_DIR": str(tmp_path / "logs"), **getattr(request, "param", {})}


def settings(**overrides):
    return pytest.mark.parametrize("config_overrides", [overrides], indirect=True, ids=[",".join(overrides)])


@pytest.fixture(autouse=True)
def failing_route(app):
    def divide(word="x"):
        return str(1 / 0)

    app.add_url_rule("/divide", "divide", divide)
    app.add_url_rule("/divide/<word>", "divide_word", divide)


def logs(app) -> Path:
    return Path(app.config["LOG_DIR"])


def write_what_is_gathered(app) -> None:
    """Have the log handlers write what they hold, as they do when the process exits."""
    for handler in logging.getLogger("app").handlers:
        handler.flush()


def storm(client, n: int, path: str = "/divide", **kwargs) -> list[str]:
    """Make `n` failing requests; return their request ids (the references on their error pages)."""
    responses = [client.get(path, **kwargs) for _ in range(n)]
    assert {response.status_code for response in responses} == {500}
    return [response.headers["X-Request-ID"] for response in responses]


def summaries(app) -> list[re.Match]:
    lines = (logs(app) / "microblog-repeats.log").read_text(encoding="utf-8").splitlines()
    matches = [SUMMARY.fullmatch(line) for line in lines]
    assert all(matches), [line for line, match in zip(lines, matches, strict=True) if not match][:3]
    return matches


def test_a_storm_is_summed_up_in_lines_that_list_every_failing_request_once_in_a_few_bytes_each(app, client):
    client.get("/divide")  # the fault's full record, in the window before the storm
    before = sum(path.stat().st_size for path in logs(app).iterdir())

    ids = storm(client, 2000)
    write_what_is_gathered(app)

    lines = summaries(app)
    listed = Counter(request_id for line in lines for request_id in line["ids"].split())
    assert listed == Counter(ids)  # every failing request's reference is in the log, once
    assert sum(int(line["count"]) for line in lines) == 2000
    assert {(line["method"], line["path"], line["status"]) for line in lines} == {("GET", "/divide", "500")}
    [full] = [line for line in (logs(app) / "microblog.log").read_text().splitlines() if "Exception on /divide" in line]
    assert {line["fingerprint"] for line in lines} == {full.split("| fingerprint ")[1].split()[0]}
    assert {line["first_time"] for line in lines} == {full[:24]}  # where the traceback is
    assert max(len(line[0].encode()) for line in lines) < 16_384  # Docker and many shippers split longer lines
    after = sum(path.stat().st_size for path in logs(app).iterdir())
    assert (after - before) / 2000 < TARGET_BYTES_PER_FAILING_REQUEST


def test_the_last_second_of_a_storm_is_written_though_no_request_follows(app, client):
    client.get("/divide")
    ids = storm(client, 5)

    # No request, no exit: the background thread writes the summary when its second is over.
    repeats = logs(app) / "microblog-repeats.log"

    def written() -> str:
        return repeats.read_text() if repeats.exists() else ""

    wait_for(lambda text: all(request_id in text for request_id in ids), written, 5.0, "the summary")

    lines = summaries(app)  # one, or two if the requests straddled a second
    assert [request_id for line in lines for request_id in line["ids"].split()] == ids
    assert sum(int(line["count"]) for line in lines) == 5


def test_a_reference_from_the_middle_of_a_storm_is_found_with_its_fault(app, client):
    first = storm(client, 1)[0]
    ids = storm(client, 600)
    write_what_is_gathered(app)
    middle = ids[300]

    result = app.test_cli_runner().invoke(args=["errors", "find", middle])

    assert result.exit_code == 0, result.output
    output = result.output
    assert f"Request {middle}: 1 record(s)" in output
    assert re.search(
        rf"microblog-repeats\.log:\d+\n  \S+ ERROR \S+ \[-\] \d+ repeats of [0-9a-f]{{12}} GET /divide 500 from .*, "
        rf"first logged at \S+ \[{first}\]; requests: {middle} \(and \d+ other\(s\) listed\)\n",
        output,
    )
    assert re.search(rf"Traceback of fault [0-9a-f]{{12}}: logged once per window, with request {first} at ", output)
    assert ids[299] not in output and ids[301] not in output  # the summary's other ids are not this request's

    # The first request's own record is its full one: the summaries only name it as "first logged at".
    result = app.test_cli_runner().invoke(args=["errors", "find", first])
    assert "Traceback (most recent call last):" in result.output and "repeats of" not in result.output
    # Part of a listed id is no request's id.
    assert app.test_cli_runner().invoke(args=["errors", "find", middle[:12]]).exit_code == 1


@settings(LOG_FORMAT="json")
def test_a_json_summary_carries_the_same_fields(app, client):
    first = storm(client, 1)[0]
    ids = storm(client, 30)
    write_what_is_gathered(app)

    records = [json.loads(line) for line in (logs(app) / "microblog-repeats.log").read_text().splitlines()]
    assert [request_id for record in records for request_id in record["request_ids"]] == ids
    record = records[0]
    full = json.loads((logs(app) / "microblog.log").read_text().splitlines()[-1])
    assert record["request_id"] == "-" and record["level"] == "ERROR" and record["logger"] == "app"
    assert (record["method"], record["path"], record["status"]) == ("GET", "/divide", 500)
    assert record["fingerprint"] == full["exception"]["fingerprint"]
    assert record["message"] == f"{record['repeats']} repeats of {record['fingerprint']}"
    assert record["repeat_of"] == {"time": full["time"], "request_id": first}
    assert record["time"] == record["from"] <= record["to"]

    result = app.test_cli_runner().invoke(args=["errors", "find", ids[15]])
    assert result.exit_code == 0 and f"requests: {ids[15]} (and " in result.output, result.output


@settings(SECRET_KEY="a-secret-key-that-must-never-be-logged-0123")
def test_a_summary_line_shows_no_cookie_value_or_secret_from_the_path(app, client):
    client.set_cookie("session", COOKIE)
    for word in ("first", COOKIE, app.config["SECRET_KEY"]):  # the first is the fault's full record
        client.get(f"/divide/{word}")
    write_what_is_gathered(app)

    text = (logs(app) / "microblog-repeats.log").read_text()
    assert COOKIE not in text and app.config["SECRET_KEY"] not in text
    [line] = summaries(app)  # masked alike, the two paths are one page
    assert line["path"] == "/divide/********" and line["count"] == "2"


def test_a_storm_on_many_pages_keeps_a_bounded_number_of_summaries_open(app, client):
    from app.observability.repeats import MAX_OPEN, RepeatSummaries

    [gathering] = [handler for handler in logging.getLogger("app").handlers if isinstance(handler, RepeatSummaries)]
    client.get("/divide/first")
    pages = MAX_OPEN + 50
    ids = []
    for n in range(pages):
        ids += storm(client, 1, f"/divide/{n}")
        assert len(gathering.open) <= MAX_OPEN

    # What is not open was written: early, as the hundred-and-first opened, or by the background thread if a
    # second closed during the storm (its write may still be under way).
    wait_until(lambda: len(summaries(app)) + len(gathering.open) >= pages, timeout=5, what="the early summaries")
    write_what_is_gathered(app)
    assert Counter(request_id for line in summaries(app) for request_id in line["ids"].split()) == Counter(ids)
