"""The log an operator reads: line and JSON formats, stdout, an unwritable directory, error storms."""

import json
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app import create_app
from tests.conftest import config_for_tests

LINE_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<level>[A-Z]+) (?P<host>[\w.-]+) \[(?P<request_id>[^\]]+)\] "
    r"(?P<logger>[\w.]+): (?P<message>.*) \[in (?P<place>[^\]]+:\d+)\]$"
)


def settings(**overrides):
    return pytest.mark.parametrize("config_overrides", [overrides], indirect=True, ids=[",".join(overrides)])


@pytest.fixture
def config_overrides(request, tmp_path):
    overrides = {"LOG_IN_TESTS": True, "LOG_DIR": str(tmp_path / "logs")}
    return {**overrides, **getattr(request, "param", {})}


@pytest.fixture(autouse=True)
def faulty_routes(app):
    def divide():
        return str(1 / 0)

    def other_fault():
        raise LookupError("another fault")

    app.add_url_rule("/divide", "divide", divide)
    app.add_url_rule("/other", "other", other_fault)


@pytest.fixture
def log_lines(app):
    """Return a function that reads the log file's lines so far."""
    return lambda: (Path(app.config["LOG_DIR"]) / "microblog.log").read_text(encoding="utf-8").splitlines()


@settings(HOST_NAME="web-7")
def test_every_record_names_its_host(client, log_lines):
    """A site on several hosts is read from one place: each line says which host wrote it."""
    response = client.get("/divide")
    hosts = {LINE.fullmatch(line)["host"] for line in log_lines() if LINE.fullmatch(line)}
    assert hosts == {"web-7"} and response.status_code == 500


@settings(HOST_NAME="web-7", LOG_FORMAT="json")
def test_every_json_record_names_its_host(client, log_lines):
    client.get("/divide")
    assert {json.loads(line)["host"] for line in log_lines()} == {"web-7"}


def test_an_error_is_one_line_with_time_level_request_id_logger_message_and_place_then_the_traceback(client, log_lines):
    response = client.get("/divide")

    lines = log_lines()
    start = next(i for i, line in enumerate(lines) if "Exception on /divide" in line)
    fields = LINE.fullmatch(lines[start]).groupdict()
    assert fields["level"] == "ERROR"
    assert fields["request_id"] == response.headers["X-Request-ID"]
    assert fields["logger"] == "app"
    assert fields["message"].startswith("Exception on /divide [GET] | ZeroDivisionError: division by zero | ")
    assert re.fullmatch(r".+/flask/app\.py:\d+", fields["place"])  # where Flask logged it
    assert lines[start + 1] == "Traceback (most recent call last):"
    assert lines[-1] == "ZeroDivisionError: division by zero"


def test_outside_a_request_the_request_id_is_a_dash_and_startup_is_logged_once(app, log_lines):
    [startup] = [line for line in log_lines() if "Microblog startup" in line]

    fields = LINE.fullmatch(startup).groupdict()
    assert (fields["level"], fields["request_id"]) == ("INFO", "-")
    assert re.fullmatch(r"app/observability/logs\.py:\d+", fields["place"])
    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()  # sqlite, or postgresql
    assert "version 1.0.0" in startup and f"database {database}," in startup and "mail alerts off" in startup
    assert f"log {app.config['LOG_DIR']}/microblog.log (text)" in startup
    assert app.config["SECRET_KEY"] not in startup


def test_404s_come_out_in_the_same_format(client, log_lines):
    client.get("/no-such-page")
    client.get("/also-missing", headers={"Referer": "http://localhost/explore"})

    lines = log_lines()
    not_found, broken_link = [LINE.fullmatch(line) for line in lines if "no-such" in line or "also-missing" in line]
    assert not_found["level"] == "INFO"
    assert broken_link["level"] == "WARNING" and "http://localhost/explore" in broken_link["message"]


def test_a_path_with_a_line_break_cannot_forge_a_log_line(client, log_lines):
    response = client.get("/divide%0A2030-01-01T00:00:00.000Z INFO [-] app: forged")

    # Refused before any view (app/errors/input_checks.py); text that does reach a line is escaped
    # (tests/test_input.py).
    assert response.status_code == 400
    assert not any(line.startswith("2030-01-01") for line in log_lines())


@settings(LOG_FORMAT="json")
def test_json_lines_carry_the_same_fields(client, log_lines):
    response = client.get("/divide")

    records = [json.loads(line) for line in log_lines()]
    [error] = [record for record in records if record["level"] == "ERROR"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert error["logger"] == "app" and error["message"] == "Exception on /divide [GET]"
    assert error["exception"]["type"] == "ZeroDivisionError" and len(error["exception"]["fingerprint"]) == 12
    assert error["traceback"].startswith("Traceback (most recent call last):")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", error["time"])
    assert re.fullmatch(r".+:\d+", error["place"])


def write_gathered_repeats(app) -> None:
    """Have the handlers write the repeats they gather (a line a second, app/observability/repeats.py) now."""
    for handler in app.logger.handlers:
        handler.flush()


def test_an_error_storm_writes_the_fault_once_and_its_repeats_summed_up_apart(app, client, log_lines):
    responses = [client.get("/divide") for _ in range(50)]
    client.get("/other")
    write_gathered_repeats(app)

    lines = log_lines()
    [full] = [line for line in lines if "Exception on /divide" in line]
    assert "ZeroDivisionError: division by zero | fingerprint " in full
    assert sum(line == "Traceback (most recent call last):" for line in lines) == 2  # one per fault
    fingerprint = full.split("fingerprint ")[1].split()[0]
    first_time, first_id = LINE.fullmatch(full)["time"], responses[0].headers["X-Request-ID"]
    repeats = (Path(app.config["LOG_DIR"]) / "microblog-repeats.log").read_text(encoding="utf-8").splitlines()
    host, ids = app.config["HOST_NAME"], [response.headers["X-Request-ID"] for response in responses[1:]]
    summary_line = re.compile(r"(\S+) ERROR (\S+) \[-\] (\d+) repeats? of (.+); requests: (.+)")
    summaries = [summary_line.fullmatch(line) for line in repeats]
    assert [request_id for summary in summaries for request_id in summary[5].split()] == ids  # one second, or two
    for summary in summaries:
        assert summary[2] == host and summary[1] == LINE_START.match(summary[1])[0]
        assert int(summary[3]) == len(summary[5].split())
        assert re.fullmatch(
            rf"{fingerprint} GET /divide 500 from \d\d:\d\d:\d\d\.\d{{3}} to \d\d:\d\d:\d\d\.\d{{3}}, "
            rf"first logged at {first_time} \[{first_id}\]",
            summary[4],
        )


def test_a_fault_inside_a_library_is_named_by_the_application_line_that_called_it(app, client, log_lines):
    app.add_url_rule("/parse-a", "parse_a", lambda: json.loads("{"))
    app.add_url_rule("/parse-b", "parse_b", lambda: json.loads("{"))  # the same library fault, another caller

    for path in ("/parse-a", "/parse-b", "/parse-a"):
        client.get(path)
    write_gathered_repeats(app)

    lines = [line for line in log_lines() if "Exception on /parse-" in line]
    first_a, b = [line.split("fingerprint ")[1].split()[0] for line in lines]
    [second_a] = (Path(app.config["LOG_DIR"]) / "microblog-repeats.log").read_text().splitlines()
    assert f"] 1 repeat of {first_a} GET /parse-a 500 " in second_a  # the same fault, its full record written once
    assert first_a != b


@settings(LOG_ALL_TRACEBACKS=True)
def test_a_setting_writes_every_traceback(client, log_lines):
    for _ in range(5):
        client.get("/divide")

    assert sum(line == "Traceback (most recent call last):" for line in log_lines()) == 5


def test_log_to_stdout_writes_each_record_once_to_stdout(tmp_path, capfd, log_lines):
    app = create_app(config_for_tests(tmp_path, LOG_IN_TESTS=True, LOG_TO_STDOUT=True))
    app.add_url_rule("/divide", "divide", lambda: str(1 / 0))

    app.test_client().get("/divide")

    out, err = capfd.readouterr()
    assert out.count("Microblog startup") == 1 and "log stdout (text)" in out
    assert out.count("Exception on /divide [GET]") == 1
    assert err == ""
    assert not any("/divide" in line for line in log_lines())  # nothing went to a file


def test_an_unwritable_log_directory_falls_back_to_stderr_and_the_app_serves(tmp_path, capfd):
    (tmp_path / "a-file").write_text("not a directory")
    app = create_app(config_for_tests(tmp_path, LOG_IN_TESTS=True, LOG_DIR=str(tmp_path / "a-file" / "logs")))

    response = app.test_client().get("/avatar/00000000000000000000000000000000.svg")

    assert response.status_code == 200
    out, err = capfd.readouterr()
    [warning] = [line for line in err.splitlines() if "Cannot write the log file" in line]
    assert LINE.fullmatch(warning)["level"] == "WARNING"
    assert "logging to stderr instead" in warning and "a-file/logs" in warning
    assert err.count("Microblog startup") == 1 and "log stderr" in err
