"""What an alert mail may say and how it reads.

Every mail is received by a real SMTP server (aiosmtpd) on loopback; the raw bytes it received are
read where the transfer encoding matters. The Host header through real gunicorn is in
tests/faults/test_request_input.py.
"""

import socket
from email import message_from_bytes, message_from_string, policy

import pytest
import sqlalchemy as sa
from flask import request

from app import create_app
from app.extensions import db
from app.models import Post, User
from app.observability.alerts.mail import block
from tests.conftest import config_for_tests
from tests.support.alert_progress import alerts_processed
from tests.support.alerting import alert_settings, subject
from tests.support.smtp import smtp_server
from tests.support.waiting import wait_for

SITE_URL = "https://microblog.example.org"
EMAIL = "ann.person@example.com"
CLIENT = "203.0.113.77"
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def settings(**overrides):
    return pytest.mark.parametrize("config_overrides", [overrides], indirect=True, ids=[",".join(overrides)])


@pytest.fixture
def config_overrides(request, tmp_path, smtp):
    overrides = {"DEMO_ERRORS": True, "SITE_URL": SITE_URL, "PROXY_FIX_X_FOR": 1, **getattr(request, "param", {})}
    # The test client's name, and a forged one let through the host check (as a proxy passing any Host would):
    # the mail names SITE_URL all the same.
    overrides.setdefault("TRUSTED_HOSTS", ["localhost", "evil.example"])
    return alert_settings(tmp_path, smtp[1], **overrides)


@pytest.fixture
def inbox(smtp):
    return smtp[0]


@pytest.fixture
def fail_with_an_email(app):
    """A view whose exception names the user's email, as a lookup that failed might."""

    def lookup():
        raise LookupError(f"no account for {EMAIL}")

    app.add_url_rule("/lookup", "lookup", lookup, methods=["POST"])


def raw_mails(inbox) -> list[bytes]:
    """Return the mails as the SMTP server received them, byte for byte."""
    with inbox.lock:
        return [envelope.content for envelope in inbox.envelopes]


def request_block(body: str) -> dict[str, str]:
    """Return the "Request" block's rows: {name: value}."""
    rows = body.split("\n\nRequest\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return dict(row.strip().split(":", 1) for row in rows)


def test_a_field_name_with_a_line_break_is_refused_before_it_can_reach_a_mail(client, inbox, app):
    forged = "comment\n  Client:     198.51.100.1\n  User:       1 (admin)\nx"

    response = client.get("/demo/error", data={forged: "hello"})

    assert response.status_code == 400
    alerts_processed(app)
    inbox.exactly(0)


def test_a_value_with_control_characters_cannot_forge_lines_in_the_mail(client, inbox):
    # Headers are not refused (a proxy may add anything there), so the mail escapes what they hold.
    forged = "\x85  User:       1 (admin)\u2028  Client:     198.51.100.1\x1b[2K"
    client.get("/demo/error", headers={"Referer": f"http://localhost/{forged}"})

    [mail] = inbox.wait_for(1)
    body = mail.get_content()
    for line in body.splitlines():
        assert not line.strip().startswith(("User:       1 (admin)", "Client:     198")), line
    assert "\x85" not in body and "\u2028" not in body and "\x1b" not in body
    assert "Referer:    http://localhost/\\x85  User:       1 (admin)\\u2028" in body


def test_a_name_with_line_breaks_cannot_forge_lines_in_the_mail():
    # Werkzeug drops such cookie names and the input check refuses such field names; the mail escapes them anyway.
    rows = {"comment\n  Client:     198.51.100.1\x85  User:       1 (admin)": "hello"}

    text = block("Form", rows)

    assert text.splitlines()[1:] == ["  comment\\n  Client:     198.51.100.1\\x85  User:       1 (admin): hello"]


def test_the_url_names_the_configured_site_never_the_host_the_client_sent(client, inbox):
    response = client.get("/demo/error?page=2", headers={"Host": "evil.example"})

    [mail] = inbox.wait_for(1)
    assert request_block(mail.get_content())["URL"].strip() == f"{SITE_URL}/demo/error?page=2"
    assert "evil.example" not in mail.get_content().split("\nHeaders\n")[0]
    assert response.status_code == 500


@settings(SITE_URL="")
def test_without_a_site_url_the_mail_gives_the_path_and_no_host(client, inbox):
    client.get("/demo/error?page=2", headers={"Host": "evil.example"})

    [mail] = inbox.wait_for(1)
    assert request_block(mail.get_content())["URL"].strip() == "/demo/error?page=2"


def personal_request(client):
    return client.post(
        f"/lookup?email={EMAIL}",
        data={"e_mail": EMAIL, "note": f"write to {EMAIL}"},
        headers={"User-Agent": AGENT, "X-Forwarded-For": CLIENT, "From": EMAIL},
    )


@pytest.mark.usefixtures("fail_with_an_email")
def test_the_mail_keeps_no_email_address_or_user_agent_by_default(client, inbox):
    personal_request(client)

    [mail] = inbox.wait_for(1)
    everything = str(mail)  # headers and body, as the SMTP server received them (decoded)
    everything += mail.get_content()
    assert EMAIL not in everything and "ann.person" not in everything
    assert CLIENT not in everything and AGENT not in everything
    facts = request_block(mail.get_content())
    assert facts["Client"].strip() == "203.0.113.x"  # the network, enough to tell one client from many
    assert facts["User agent"].strip() == "Firefox 128"  # the browser, enough to reproduce


@settings(ALERT_PERSONAL_DATA=True)
@pytest.mark.usefixtures("fail_with_an_email")
def test_a_setting_shows_personal_data_to_on_call(client, inbox):
    personal_request(client)

    [mail] = inbox.wait_for(1)
    facts = request_block(mail.get_content())
    assert (facts["Client"].strip(), facts["User agent"].strip()) == (CLIENT, AGENT)
    assert f"no account for {EMAIL}" in mail["Subject"]


def test_the_mail_says_where_in_the_application_and_reference_as_the_page_does(client, inbox):
    response = client.get("/demo/error")

    [mail] = inbox.wait_for(1)
    body = mail.get_content()
    rows = body.split("\n\nWhere and when\n", 1)[1].split("\n\n")[0].splitlines()
    where = dict(row.strip().split(": ", 1) for row in rows)
    assert where["Where"].strip().startswith("app/errors/demo.py:"), where
    assert ".venv" not in body.split("\nTraceback")[0] and "site-packages" not in body.split("\nTraceback")[0]
    reference = response.headers["X-Request-ID"]
    assert request_block(body)["Reference"].strip() == reference
    assert f'Reference: <code class="request-id">{reference}</code>' in response.get_data(as_text=True)
    assert "Request id" not in body


def test_the_subject_names_the_environment_and_the_host(client, inbox, app):
    client.get("/demo/error")

    [mail] = inbox.wait_for(1)
    host = socket.gethostname()
    assert mail["Subject"].startswith(f"[Microblog {app.config['ENV_NAME']} {host}] DemoFailure: ")


# A missing table's error, as SQLAlchemy words it: the statement and its link follow on the next lines.
MISSING_TABLE = {
    "sqlite": "OperationalError: (sqlite3.OperationalError) no such table: post",
    "postgresql": 'ProgrammingError: (psycopg.errors.UndefinedTable) relation "post" does not exist',
}


def test_a_database_error_s_subject_is_its_first_line_and_the_body_keeps_the_statement(app, client, inbox):
    with app.app_context():
        Post.__table__.drop(db.engine)  # a database the migrations never reached
        dialect = db.engine.dialect.name

    assert client.get("/explore").status_code == 500

    [mail] = inbox.wait_for(1)
    assert mail["Subject"] == subject(MISSING_TABLE[dialect])
    body = mail.get_content()
    assert "[SQL: SELECT post.id" in body.split("\nTraceback\n", 1)[1]
    assert "(Background on this error at: https://sqlalche.me/" in body


def test_sqlalchemy_s_link_on_the_message_s_own_line_stays_out_of_the_subject(app, client, inbox):
    def rolled_back():
        raise sa.exc.PendingRollbackError("Can't reconnect until invalid transaction is rolled back.", code="8s2b")

    app.add_url_rule("/rolled-back", "rolled_back", rolled_back)
    client.get("/rolled-back")

    [mail] = inbox.wait_for(1)
    assert mail["Subject"] == subject("PendingRollbackError: Can't reconnect until invalid transaction is rolled back.")
    assert "rolled back. (Background on this error at: https://sqlalche.me/e/" in mail.get_content()


def more_on_the_fault(body: str) -> dict[str, str]:
    """Return the rows of the mail's pointers to the fault: {name: value}."""
    rows = body.split("\n\nMore on this fault\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return {name.strip(): value.strip() for name, value in (row.split(": ", 1) for row in rows)}


def test_the_first_mail_names_the_command_and_the_admin_page_of_its_fault(app, client, auth, make_user, inbox):
    client.get("/demo/error")

    [mail] = inbox.wait_for(1)
    fingerprint = mail["X-Microblog-Fingerprint"]
    pointers = more_on_the_fault(mail.get_content())
    assert pointers == {
        "Command": f"flask errors show {fingerprint}",
        "Admin page": f"{SITE_URL}/admin/errors#fault-{fingerprint}",
    }
    admin = make_user()
    with app.app_context():
        db.session.get(User, admin.id).is_admin = True
        db.session.commit()
    auth.login(admin)
    page = client.get(pointers["Admin page"].removeprefix(SITE_URL))
    assert page.status_code == 200 and f'id="fault-{fingerprint}"' in page.get_data(as_text=True)


@settings(SITE_URL="")
def test_without_a_site_url_the_mail_gives_the_admin_page_s_path(client, inbox):
    client.get("/demo/error")

    [mail] = inbox.wait_for(1)
    fingerprint = mail["X-Microblog-Fingerprint"]
    assert more_on_the_fault(mail.get_content())["Admin page"] == f"/admin/errors#fault-{fingerprint}"


def test_the_traceback_comes_before_the_headers(client, inbox):
    client.get("/demo/error", headers={"User-Agent": AGENT})

    [mail] = inbox.wait_for(1)
    body = mail.get_content()
    assert body.index("\nRequest\n") < body.index("\nTraceback") < body.index("\nHeaders\n")


@settings(ALERT_WINDOW=3)
def test_request_ids_are_never_split_in_the_raw_mail(client, inbox):
    ids = [f"req-{n:02d}-{'0123456789abcdef' * 2}" for n in range(8)]  # 39 characters each
    long_agent = AGENT + " " + "x" * 200

    for request_id in ids:
        client.get("/demo/error?" + "q=" + "y" * 120, headers={"X-Request-ID": request_id, "User-Agent": long_agent})

    inbox.wait_for(2)
    first, follow_up = raw_mails(inbox)[:2]
    assert ids[0].encode() in first.split(b"\r\n\r\n", 1)[1]  # in the body, not only in the X-Request-ID header
    # The follow-up names the latest repeats on one long line (which ones depends on the machine's pace).
    decoded = message_from_bytes(follow_up, policy=policy.default).get_content()  # as a reader sees it
    named = [request_id for request_id in ids if request_id in decoded]
    assert len(named) >= 3, named
    for request_id in named:
        assert request_id.encode() in follow_up, request_id
    for raw in (first, follow_up):
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # SMTP's limit on a line
        assert message_from_bytes(raw, policy=policy.default)["Content-Transfer-Encoding"] == "8bit"


def test_a_relay_without_8bitmime_gets_quoted_printable(tmp_path):
    # aiosmtpd advertises 8BITMIME only when it keeps the bytes; decoding them, it speaks 7-bit only.
    with smtp_server(decode_data=True) as (inbox, port):
        app = create_app(config_for_tests(tmp_path, **alert_settings(tmp_path, port, DEMO_ERRORS=True)))
        app.test_client().get("/demo/error", headers={"User-Agent": "é" * 600})
        wait_for(bool, lambda: list(inbox.envelopes), what="the mail")
        app.extensions["alerts"].close()

    [envelope] = inbox.envelopes
    message = message_from_string(envelope.content, policy=policy.default)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert "DemoFailure: Demo failure requested at /demo/error" in message.get_content()


# Cookies: the app's own (session, remember_token, login_device, the maintenance pass) and any other on the domain.

OTHER_COOKIE = ("site_prefs", "another-site-cookie-4f1d9a")  # a name the app never sets


def logged_in_with_cookies(client, auth, make_user) -> list[str]:
    """Log in through the form (it sets the login_device cookie), add an unknown cookie; return their values."""
    auth.login(make_user())
    client.set_cookie(*OTHER_COOKIE)
    return [client.get_cookie("login_device").value, OTHER_COOKIE[1]]


def test_no_cookie_s_value_reaches_the_mail_whatever_its_name(client, auth, make_user, inbox):
    values = logged_in_with_cookies(client, auth, make_user)

    client.get("/demo/error")

    [mail] = inbox.wait_for(1)
    [raw] = raw_mails(inbox)
    for value in values:
        assert value.encode() not in raw, value
    body = mail.get_content()
    rows = [row.split(":", 1) for row in body.split("\n\nCookies\n", 1)[1].strip().splitlines()]
    cookies = {name.strip(): value.strip() for name, value in rows}
    assert cookies["login_device"] == cookies["site_prefs"] == cookies["session"] == "********"
    headers = body.split("\n\nHeaders\n", 1)[1].split("\n\n", 1)[0]
    assert [row.split()[1:] for row in headers.splitlines() if row.split()[0] == "Cookie:"] == [["********"]]


def test_no_cookie_s_value_reaches_the_mail_or_the_log_from_an_exception_s_text(app, client, auth, make_user, inbox,
                                                                                tmp_path):  # fmt: skip
    def read_device():
        raise ValueError(f"cannot read {request.cookies['login_device']} next to {request.cookies['site_prefs']}")

    app.add_url_rule("/read-device", "read_device", read_device)
    values = logged_in_with_cookies(client, auth, make_user)

    client.get("/read-device")

    [mail] = inbox.wait_for(1)
    log = (tmp_path / "logs" / "microblog.log").read_text()
    assert "ValueError: cannot read ******** next to ********" in log
    for value in values:
        assert value.encode() not in raw_mails(inbox)[0], value
        assert value not in log, value
    assert "cannot read ******** next to ********" in mail["Subject"]
