"""Alert mails, received by a real SMTP server (aiosmtpd) on loopback and read with the email package."""

import os
import socket
import time
import uuid
from pathlib import Path

import pytest
import redis

from app import create_app
from app.observability.fault_store import SqliteStore, list_faults
from tests.conftest import config_for_tests
from tests.support.alert_progress import alerts_processed, follow_ups_claimed
from tests.support.alerting import ADMIN, alert_settings, subject
from tests.support.outages import database_unreachable
from tests.support.secrets import PLANTED_DB_PASSWORD, PLANTED_PASSWORD, PLANTED_TOKEN
from tests.support.servers import free_port
from tests.support.smtp import accept_login, black_hole, self_signed_certificate, server_tls_context, smtp_server
from tests.support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("faulty_views")  # /boom and /other
NO_SHARED_STATE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def settings(**overrides):
    """Run a test with these settings on top of the module's alert settings."""
    return pytest.mark.parametrize("config_overrides", [overrides], indirect=True, ids=[",".join(overrides)])


@pytest.fixture
def config_overrides(request, tmp_path, smtp):
    overrides = dict(getattr(request, "param", {}))
    if overrides.pop("MAIL_TO_BLACK_HOLE", False):
        overrides["MAIL_PORT"] = request.getfixturevalue("hole").port
    return alert_settings(tmp_path, smtp[1], **overrides)


@pytest.fixture
def inbox(smtp):
    return smtp[0]


@pytest.fixture
def hole():
    with black_hole() as hole:
        yield hole


def log_text(app) -> str:
    return (Path(app.config["LOG_DIR"]) / "microblog.log").read_text(encoding="utf-8")


def wait_for_log(app, text: str) -> str:
    return wait_for(text, lambda: log_text(app))


def shared_faults(app) -> list:
    """Return the faults in the app's shared alert state (its SQLite file), as every worker sees them."""
    return list_faults(SqliteStore(app.config["ALERT_STATE_PATH"]))


def everything_in(message) -> str:
    """Return the decoded headers and body of a mail, as a reader would see them."""
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    return headers + "\n" + message.get_content()


def test_an_error_mails_the_admins_all_they_need_to_act(client, auth, make_user, inbox, app):
    user = make_user(username="Алёна")
    auth.login(user)

    response = client.post(
        "/boom?page=2&token=" + PLANTED_TOKEN,
        data={"password": PLANTED_PASSWORD, "comment": "ça plante 🔥"},
        headers={
            "X-Auth-Token": PLANTED_TOKEN,
            "User-Agent": "pytest-agent/1.0",
            "Referer": "http://localhost/explore",
        },
    )

    assert response.status_code == 500
    [mail] = inbox.wait_for(1)
    body = mail.get_content()
    assert mail["Subject"] == subject("RuntimeError: Kaboom 💥 at postgresql://app:********@db/microblog")
    assert (mail["From"], mail["To"]) == ("microblog@example.com", ADMIN)
    assert mail["Message-ID"] and mail.get_content_charset() == "utf-8"
    for line in (
        "Method:     POST",
        "URL:        http://localhost/boom?page=2&token=********",
        "Endpoint:   boom",
        "Client:     127.0.0.x",  # personal data cut to what on-call needs
        "User agent: pytest-agent 1",
        "Referer:    http://localhost/explore",
        f"User:       {user.id} (Алёна)",
        f"Reference:  {response.headers['X-Request-ID']}",  # the page's word
        f"Host:        {socket.gethostname()} (pid {os.getpid()})",
        "Version:     Microblog 1.0.0",
        "Occurrences: 1, the first in this window",
        "comment:  ça plante 🔥",
        "password: ********",
        "X-Auth-Token:",
    ):
        assert line in body, line
    assert "Time (UTC):  20" in body
    assert "KeyError: 'missing'" in body and "The above exception was the direct cause" in body
    log = log_text(app)
    for secret in (PLANTED_PASSWORD, PLANTED_TOKEN, PLANTED_DB_PASSWORD):
        assert secret not in everything_in(mail)
        assert secret not in log


def test_a_subject_is_the_message_s_first_line_within_120_characters(client, inbox, app):
    def long_fault():
        raise RuntimeError("line one Bcc: victim@example.com " + "x" * 300 + "\r\nBcc: other@example.com\nline three")

    app.add_url_rule("/long", "long", long_fault)
    client.get("/long")

    [mail] = inbox.wait_for(1)
    assert len(mail["Subject"]) <= 120
    assert mail["Subject"].startswith(subject("RuntimeError: line one Bcc: ******** xxx"))  # the address masked
    assert mail["Subject"].count("Bcc") == 1 and "line three" not in mail["Subject"]
    assert mail["Bcc"] is None
    assert "line one Bcc: ******** xxx" in mail.get_content() and "line three" in mail.get_content()  # the whole text


@settings(ALERT_WINDOW=1.5)
def test_repeats_of_a_fault_fold_into_one_threaded_follow_up(client, inbox, app):
    for _ in range(10):
        assert client.get("/boom").status_code == 500

    [first] = inbox.wait_for(1)
    first, follow_up = inbox.wait_for(2)
    assert "occurred 9 more times between" in follow_up.get_content()
    assert follow_up["Subject"] == "Re: " + first["Subject"]
    assert follow_up["In-Reply-To"] == first["Message-ID"] == follow_up["References"]
    follow_ups_claimed(app)  # the window the follow-up started passes quiet: it sends nothing more
    inbox.exactly(2)


def test_two_faults_send_two_mails(client, inbox, app):
    for path in ("/boom", "/other", "/boom", "/other"):
        client.get(path)

    mails = inbox.wait_for(2)
    kinds = sorted(mail["Subject"].split(":")[0] for mail in mails)
    assert kinds == [subject("RuntimeError"), subject("ValueError")]
    assert mails[0]["X-Microblog-Fingerprint"] != mails[1]["X-Microblog-Fingerprint"]
    alerts_processed(app)
    inbox.exactly(2)


@settings(ALERTS_PER_HOUR=1)
def test_the_hourly_cap_holds_mails_back_and_says_so(client, inbox, app):
    client.get("/boom")
    inbox.wait_for(1)
    client.get("/other")

    wait_for_log(app, "Alert held back by the cap of 1 mails an hour: " + subject("ValueError"))
    alerts_processed(app)
    inbox.exactly(1)


@settings(MAIL_TO_BLACK_HOLE=True, MAIL_TIMEOUT=10)
def test_a_hung_mail_server_slows_no_request(client, hole, app):
    started = time.monotonic()
    failing = client.get("/boom")
    assert failing.status_code == 500
    assert time.monotonic() - started < 1.0
    hole.wait_for_connection()  # the listener now waits on a server that never answers

    for path, status in (("/explore", 200), ("/boom", 500), ("/other", 500), ("/explore", 200)):
        started = time.monotonic()
        assert client.get(path).status_code == status
        assert time.monotonic() - started < 1.0, path

    hole.close()  # the relay hangs up: the failed delivery is logged with the request it carried
    log = wait_for_log(app, "Alert mail not delivered via 127.0.0.1")
    assert failing.headers["X-Request-ID"] in log.split("Alert mail not delivered")[1]


@settings(MAIL_TO_BLACK_HOLE=True, ALERT_QUEUE_SIZE=1)
def test_a_full_queue_drops_alerts_counts_them_and_says_so(client, hole, app):
    client.get("/boom")
    hole.wait_for_connection()  # the listener holds record 1; the queue has room for one more
    for _ in range(4):
        client.get("/other")

    assert "Alert queue full (1 records): dropping alerts until it drains" in log_text(app)
    hole.close()
    wait_for_log(app, "Alert queue was full: 3 alert record(s) dropped and not mailed")


@settings(MAIL_TO_BLACK_HOLE=True, ALERT_QUEUE_SIZE=2)
def test_repeats_behind_a_hung_relay_are_counted_in_memory_and_none_is_dropped(client, hole, app):
    client.get("/boom")
    hole.wait_for_connection()  # the first mail hangs the listener; its fault's window is known
    for _ in range(30):
        assert client.get("/boom").status_code == 500

    hole.close()
    wait_for_log(app, "Alert mail not delivered via 127.0.0.1")
    app.extensions["alerts"].close()
    assert "Alert queue full" not in log_text(app)  # a queue of 2 took none of the 30 repeats
    [fault] = shared_faults(app)
    assert fault.repeats == 30


def test_repeats_counted_in_memory_reach_the_shared_state_when_the_pipeline_stops(client, inbox, app):
    for _ in range(25):
        client.get("/boom")
    inbox.wait_for(1)

    app.extensions["alerts"].close()  # as at a worker's exit, within the second a batch may wait

    [fault] = shared_faults(app)
    assert fault.repeats == 24 and len(fault.request_ids) == 5


@pytest.mark.parametrize(
    "config_overrides",
    [{"ALERT_STATE_URL": NO_SHARED_STATE}, {"ALERT_STATE_PATH": "/proc/no-such-dir/alert-state.sqlite3"}],
    indirect=True,
    ids=["redis-down", "sqlite-unwritable"],
)
def test_alerts_are_still_sent_when_the_shared_state_is_out_of_reach(client, inbox, app):
    client.get("/boom")
    client.get("/boom")

    [mail] = inbox.wait_for(1)
    assert "shared state unavailable: this process decided alone" in mail.get_content()
    assert "Alert state unavailable" in log_text(app)
    alerts_processed(app)
    inbox.exactly(1)  # this process still throttles its own repeats


@settings(ALERT_STATE_URL="redis://127.0.0.1:6379/0", ALERT_STATE_PREFIX=f"microblog-test-{uuid.uuid4().hex}:")
def test_redis_holds_the_shared_state_when_configured(client, inbox, app):
    client.get("/boom")
    client.get("/boom")

    inbox.wait_for(1)
    alerts_processed(app)
    inbox.exactly(1)
    store = redis.Redis.from_url(app.config["ALERT_STATE_URL"])
    faults_key = app.config["ALERT_STATE_PREFIX"] + "faults"
    try:
        [(fingerprint, data)] = store.hgetall(faults_key).items()
        assert b'"repeats": 1' in data
    finally:
        for key in store.scan_iter(app.config["ALERT_STATE_PREFIX"] + "*"):
            store.delete(key)
        store.close()


def test_a_database_outage_is_mailed_and_names_the_user_without_a_query(client, auth, make_user, inbox, app):
    user = make_user(username="Алёна")
    auth.login(user)

    with database_unreachable(app):
        response = client.get("/explore")

    assert response.status_code == 503  # a database that cannot be reached is a 503, not a 500
    [mail] = inbox.wait_for(1)
    assert "OperationalError" in mail["Subject"]
    assert f"User:       {user.id}\n" in mail.get_content()  # the id from the session; the name was never loaded


def test_nothing_is_mailed_without_a_mail_server(tmp_path):
    app = create_app(config_for_tests(tmp_path, LOG_IN_TESTS=True, LOG_DIR=str(tmp_path / "logs"), ADMINS=[ADMIN]))

    assert "alerts" not in app.extensions
    assert "mail alerts off" in (tmp_path / "logs" / "microblog.log").read_text()


# `flask alerts test`: the same mail and transport, synchronously, with the SMTP error and a hint on failure.


def cli_app(tmp_path, port: int, **settings):
    mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "ADMINS": [ADMIN], "MAIL_TIMEOUT": 5}
    return create_app(config_for_tests(tmp_path, **mail, **settings))


def test_alerts_test_sends_a_test_mail(tmp_path, smtp):
    inbox, port = smtp

    result = cli_app(tmp_path, port).test_cli_runner().invoke(args=["alerts", "test"])

    assert result.exit_code == 0, result.output
    assert f"Sent a test alert to {ADMIN} via 127.0.0.1:{port}." in result.output
    [mail] = inbox.wait_for(1)
    assert mail["Subject"].startswith(subject("RuntimeError: Test alert from `flask alerts test`"))


def test_alerts_test_explains_starttls_asked_of_a_server_without_it(tmp_path, smtp):
    result = cli_app(tmp_path, smtp[1], MAIL_USE_TLS=True).test_cli_runner().invoke(args=["alerts", "test"])

    assert result.exit_code == 1
    assert "SMTPNotSupportedError" in result.output
    assert "Hint: the server does not offer STARTTLS: unset MAIL_USE_TLS" in result.output


def test_alerts_test_explains_a_refused_connection(tmp_path):
    port = free_port()

    result = cli_app(tmp_path, port).test_cli_runner().invoke(args=["alerts", "test"])

    assert result.exit_code == 1
    assert f"Hint: nothing listens on 127.0.0.1:{port}" in result.output


def test_alerts_test_needs_a_mail_server(tmp_path):
    app = create_app(config_for_tests(tmp_path, MAIL_SERVER="", ADMINS=[]))

    result = app.test_cli_runner().invoke(args=["alerts", "test"])

    assert result.exit_code == 1
    assert "Set MAIL_SERVER and ADMINS first" in result.output


@pytest.fixture
def trusted_certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that the client trusts (OpenSSL reads SSL_CERT_FILE)."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return server_tls_context(cert, key)


def test_starttls_with_credentials(tmp_path, trusted_certificate):
    server_options = {
        "tls_context": trusted_certificate,
        "require_starttls": True,
        "authenticator": accept_login("alerts", "s3cret-mail-pw"),
    }
    with smtp_server(**server_options) as (inbox, port):
        app = cli_app(tmp_path, port, MAIL_USE_TLS=True, MAIL_USERNAME="alerts", MAIL_PASSWORD="s3cret-mail-pw")
        result = app.test_cli_runner().invoke(args=["alerts", "test"])

        assert result.exit_code == 0, result.output
        inbox.wait_for(1)


def test_wrong_credentials_are_reported_without_the_password(tmp_path, trusted_certificate):
    server_options = {"tls_context": trusted_certificate, "authenticator": accept_login("alerts", "right-pw")}
    with smtp_server(**server_options) as (inbox, port):
        app = cli_app(tmp_path, port, MAIL_USE_TLS=True, MAIL_USERNAME="alerts", MAIL_PASSWORD="wrong-pw-123")
        result = app.test_cli_runner().invoke(args=["alerts", "test"])

    assert result.exit_code == 1
    assert "Hint: the server refused MAIL_USERNAME/MAIL_PASSWORD." in result.output
    assert "wrong-pw-123" not in result.output


def test_implicit_tls(tmp_path, trusted_certificate):
    with smtp_server(ssl_context=trusted_certificate) as (inbox, port):
        app = cli_app(tmp_path, port, MAIL_USE_SSL=True)
        result = app.test_cli_runner().invoke(args=["alerts", "test"])

        assert result.exit_code == 0, result.output
        inbox.wait_for(1)
