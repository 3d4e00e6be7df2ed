"""The fault list: `flask errors list/show/mute/resolve`, regressions across releases, feedback, /admin/errors.

Apps mail a real SMTP server (aiosmtpd) on loopback; the alert state is the SQLite file or real Redis.
A new release is a new app built with another RELEASE, as a deploy starts new workers.
"""

import json
import re
import time

import pytest

from app import create_app
from app.extensions import db
from app.models import LoginSession, User
from app.observability.alerts.throttle import AlertThrottle
from app.observability.fault_store import SqliteStore
from app.observability.faults import fault_store, find_fault, mute
from tests.conftest import config_for_tests
from tests.support.alert_progress import alerts_processed, follow_ups_claimed
from tests.support.alerting import alert_settings, subject
from tests.support.faulty_views import add_faulty_views
from tests.support.outages import database_unreachable
from tests.support.visitor import csrf_token
from tests.support.waiting import wait_until

REFERENCE_FIELD = re.compile(r'name="reference" type="hidden" value="([^"]+)"')


def release_app(tmp_path, port: int, release: str, **settings):
    """Build the app as one worker of `release` runs it, with /boom and /other."""
    app = create_app(config_for_tests(tmp_path, **alert_settings(tmp_path, port, RELEASE=release, **settings)))
    add_faulty_views(app)
    return app


def flask(app, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def window_over(app, fingerprint: str) -> None:
    """Wait until the fault's window in the shared state has ended: its next occurrence starts a new one."""
    ends = find_fault(fault_store(app), fingerprint).window_start + app.config["ALERT_WINDOW"]
    wait_until(lambda: time.time() >= ends, what=f"the end of the window of fault {fingerprint}")


def the_fingerprint(app) -> str:
    code, output = flask(app, "errors", "list", "--json")
    assert code == 0, output
    [fault] = json.loads(output)
    return fault["fingerprint"]


def test_resolve_then_a_newer_release_sends_one_regression_mail(tmp_path, smtp, shared_state):
    inbox, port = smtp
    old = release_app(tmp_path, port, "1.4.0", **shared_state)
    old.test_client().get("/boom")
    inbox.wait_for(1)
    fingerprint = the_fingerprint(old)

    code, output = flask(old, "errors", "resolve", fingerprint[:6])
    assert code == 0, output
    assert f"Fault {fingerprint} resolved in release 1.4.0" in output

    late = release_app(tmp_path, port, "1.4.0", **shared_state)  # a worker of the old release, still draining
    late.test_client().get("/boom")
    alerts_processed(late)
    inbox.exactly(1)
    assert "Status:        resolved in release 1.4.0" in flask(late, "errors", "show", fingerprint)[1]

    new = release_app(tmp_path, port, "1.5.0", **shared_state)
    client = new.test_client()
    failing = client.get("/boom")
    client.get("/boom")
    first, regression = inbox.wait_for(2)
    alerts_processed(new)
    inbox.exactly(2)  # the repeat is folded into the regression's window
    assert regression["Subject"] == subject("Regression: " + first["Subject"].removeprefix(subject("")))
    assert regression["In-Reply-To"] == first["Message-ID"]
    assert "Regression: resolved in release 1.4.0, back in release 1.5.0." in regression.get_content()
    assert regression["X-Request-ID"] == failing.headers["X-Request-ID"]
    new.extensions["alerts"].close()  # write the counted repeat
    [fault] = json.loads(flask(new, "errors", "list", "--json")[1])
    assert (fault["state"], fault["count"], fault["release"], fault["resolved_in"]) == (
        "regressed",
        4,
        "1.5.0",
        "1.4.0",
    )


def test_a_muted_fault_is_counted_but_not_mailed_until_unmuted(tmp_path, smtp, shared_state):
    inbox, port = smtp
    app = release_app(tmp_path, port, "2.0.0", ALERT_WINDOW=0.5, **shared_state)
    client = app.test_client()
    client.get("/boom")
    inbox.wait_for(1)
    fingerprint = the_fingerprint(app)

    code, output = flask(app, "errors", "mute", fingerprint, "--for", "1h")
    assert code == 0 and f"Fault {fingerprint} muted until" in output
    window_over(app, fingerprint)  # unmuted, the next occurrence would be mailed at once
    for _ in range(3):
        client.get("/boom")
    follow_ups_claimed(app)
    inbox.exactly(1)  # neither a first mail nor a follow-up

    app.extensions["alerts"].close()
    show = flask(app, "errors", "show", fingerprint)[1]
    assert "Status:        muted until" in show and "Occurrences:   4" in show
    assert flask(app, "errors", "unmute", fingerprint)[0] == 0
    again = release_app(tmp_path, port, "2.0.0", ALERT_WINDOW=0.5, **shared_state)
    window_over(again, fingerprint)
    again.test_client().get("/boom")
    inbox.wait_for(2)


def test_mute_by_count_lets_the_occurrence_after_the_count_be_mailed(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    throttle = AlertThrottle(store, window=10, per_hour=100, release="1.0")
    assert throttle.decide("f1", subject("E: x"), "r1", 0.0).action == "mail"
    mute(store, "f1", count=2)

    actions = [throttle.decide("f1", subject("E: x"), f"r{n}", 20.0 * n).action for n in range(2, 5)]

    assert actions == ["muted", "muted", "mail"]
    assert find_fault(store, "f1").count == 4


def test_the_fault_list_names_the_hosts_a_fault_was_seen_on(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")  # one store, as the shared store is for every host
    on_a = AlertThrottle(store, window=10, per_hour=100, release="1.0", host="web-a")
    on_b = AlertThrottle(store, window=10, per_hour=100, release="1.0", host="web-b")

    on_a.decide("f1", subject("E: x"), "r1", 100.0)
    on_b.decide("f1", subject("E: x"), "r2", 200.0)
    on_a.decide("f2", subject("E: y"), "r3", 300.0)

    assert find_fault(store, "f1").seen_on() == ["web-b", "web-a"]  # the most recent first
    assert find_fault(store, "f2").seen_on() == ["web-a"]


def test_errors_list_and_show_read_the_state_with_no_database(tmp_path, smtp):
    inbox, port = smtp
    app = release_app(tmp_path, port, "3.1.0")
    client = app.test_client()
    for path in ("/boom", "/boom", "/other"):
        client.get(path)
    inbox.wait_for(2)
    app.extensions["alerts"].close()

    with app.app_context():
        db.create_all()  # a database to take away
    with database_unreachable(app):
        code, listing = flask(app, "errors", "list")
        fingerprint = json.loads(flask(app, "errors", "list", "--json")[1])[0]["fingerprint"]
        show = flask(app, "errors", "show", fingerprint)[1]
    with app.app_context():
        db.drop_all()
        db.engine.dispose()

    assert code == 0
    header, *rows = listing.splitlines()
    assert header.split() == [
        "FINGERPRINT", "STATUS", "COUNT", "LAST", "SEEN", "(UTC)", "RELEASE", "HOSTS", "TYPE", "WHERE"
    ]  # fmt: skip
    assert [row.split()[1:3] for row in rows] == [["new", "1"], ["new", "2"]]  # /other was seen last
    assert all(row.split()[6] == app.config["HOST_NAME"] for row in rows)
    assert "ValueError" in rows[0] and "tests/support/faulty_views.py:other_fault:" in rows[0]
    assert "Type:          ValueError" in show and "Release:       3.1.0" in show
    assert re.search(rf"Hosts: +{re.escape(app.config['HOST_NAME'])} \(last \d{{4}}-\d\d-\d\d [\d:]+ UTC\)", show)
    assert re.search(r"Last 24 hours: +\S+ +\(1; oldest hour first\)", show)


def test_errors_show_names_an_unknown_fingerprint(tmp_path, smtp):
    app = release_app(tmp_path, smtp[1], "1.0.0")
    code, output = flask(app, "errors", "show", "abc")
    assert code == 1
    assert "no fault with a fingerprint starting 'abc'" in output


def test_errors_mute_wants_exactly_one_limit(tmp_path, smtp):
    app = release_app(tmp_path, smtp[1], "1.0.0")
    code, output = flask(app, "errors", "mute", "abc", "--for", "1h", "--count", "3")
    assert code == 2 and "Give exactly one of --for, --until and --count." in output


# Feedback from the 500 page


@pytest.fixture
def feedback_app(tmp_path, smtp):
    """An app with CSRF on, as in production, a 1-second alert window and /boom."""
    settings = alert_settings(tmp_path, smtp[1], WTF_CSRF_ENABLED=True, ALERT_WINDOW=1)
    app = create_app(config_for_tests(tmp_path, **settings))
    add_faulty_views(app)
    with app.app_context():
        db.create_all()
        db.session.add(User(username="ann", email="ann@example.com", password_hash=""))
        db.session.commit()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def feedback_from(page: str, text: str) -> dict:
    return {"csrf_token": csrf_token(page), "reference": REFERENCE_FIELD.search(page)[1], "text": text}


def test_feedback_sent_while_the_database_is_down_reaches_the_fault_and_its_next_mail(feedback_app, smtp):
    inbox = smtp[0]
    client = feedback_app.test_client()

    with database_unreachable(feedback_app):
        failed = client.get("/boom")
        client.get("/boom")
        page = failed.get_data(as_text=True)
        assert failed.status_code == 500 and "What were you doing when this happened?" in page
        inbox.wait_for(1)
        with client.session_transaction() as session:
            # Logged in (the cookie names user 1 and a login of theirs): any page that loaded the user would fail now.
            session["_user_id"] = "1:a-login-secret"
        thanks = client.post("/feedback", data=feedback_from(page, "Scrolling explore; password=hunter2 was typed"))
        fault = feedback_app.test_cli_runner().invoke(args=["errors", "list", "--json"]).output

    request_id = failed.headers["X-Request-ID"]
    assert thanks.status_code == 200
    assert "Thank you" in thanks.get_data(as_text=True) and request_id in thanks.get_data(as_text=True)
    [stored] = json.loads(fault)[0]["feedback"]
    assert (stored["request_id"], stored["text"]) == (request_id, "Scrolling explore; password=******** was typed")
    first, follow_up = inbox.wait_for(2, timeout=10)
    assert "Feedback from users" not in first.get_content()
    assert f"request {request_id}: Scrolling explore; password=******** was typed" in follow_up.get_content()


def test_feedback_is_refused_without_its_csrf_token_or_over_the_length(feedback_app):
    client = feedback_app.test_client()
    page = client.get("/boom").get_data(as_text=True)

    no_token = client.post("/feedback", data={**feedback_from(page, "hi"), "csrf_token": ""})
    too_long = client.post("/feedback", data=feedback_from(page, "x" * 2001))
    forged = client.post("/feedback", data={**feedback_from(page, "hi"), "reference": "forged"})

    assert no_token.status_code == 400 and "This form has expired" in no_token.get_data(as_text=True)
    assert too_long.status_code == 400 and "Use 2000 characters or fewer" in too_long.get_data(as_text=True)
    assert forged.status_code == 400
    faults = json.loads(flask(feedback_app, "errors", "list", "--json")[1])
    assert [fault["feedback"] for fault in faults] in ([], [[]])  # nothing stored (the worker may not have written yet)


def test_feedback_sent_empty_is_thanked_and_stores_nothing(feedback_app):
    """The field says "Optional.": sending it empty is no mistake to correct, and the team has the error already."""
    client = feedback_app.test_client()
    failed = client.get("/boom")
    assert "Optional." in failed.get_data(as_text=True)

    thanks = client.post("/feedback", data=feedback_from(failed.get_data(as_text=True), " \r\n "))

    text = " ".join(re.sub(r"<[^>]+>", " ", thanks.get_data(as_text=True)).split())
    assert thanks.status_code == 200 and "<title>Thank you · Microblog</title>" in thanks.get_data(as_text=True)
    assert "Nothing was written, and nothing more is needed: the team already has the error." in text
    assert "Please fill this in." not in text and f"Reference: {failed.headers['X-Request-ID']}" in text
    faults = json.loads(flask(feedback_app, "errors", "list", "--json")[1])
    assert [fault["feedback"] for fault in faults] in ([], [[]])


def test_feedback_refused_keeps_the_reference_and_names_the_field_in_a_summary(feedback_app):
    client = feedback_app.test_client()
    failed = client.get("/boom")

    refused = client.post("/feedback", data=feedback_from(failed.get_data(as_text=True), "x" * 2001))

    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "<title>Error: Your feedback · Microblog</title>" in page
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S).group(0)
    assert "There is a problem with this field" in summary and 'href="#feedback-text"' in summary
    assert f'Reference: <code class="request-id">{failed.headers["X-Request-ID"]}</code>' in page
    assert page.index("Reference:") < page.index("<form")  # the hint speaks of "the reference above"


def test_feedback_is_rate_limited(tmp_path, smtp):
    limits = {"RATELIMIT_ENABLED": True, "FEEDBACK_RATE_LIMIT": "2 per minute"}
    app = create_app(config_for_tests(tmp_path, **alert_settings(tmp_path, smtp[1], **limits)))
    add_faulty_views(app)
    client = app.test_client()
    page = client.get("/boom").get_data(as_text=True)

    statuses = [client.post("/feedback", data=feedback_from(page, "again")).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


# /admin/errors (the browser test is tests/e2e/test_admin_errors.py)


@pytest.fixture
def admin_app(tmp_path, smtp):
    app = create_app(config_for_tests(tmp_path, **alert_settings(tmp_path, smtp[1])))
    add_faulty_views(app)
    with app.app_context():
        db.create_all()
        db.session.add_all([User(username="root", email="r@example.com"), User(username="bob", email="b@example.com")])
        db.session.commit()
    assert flask(app, "users", "admin", "root") == (0, "root is an admin: /admin/errors is open to them.\n")
    app.test_client().get("/boom")
    smtp[0].wait_for(1)
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def as_user(app, user_id: int):
    """Return a client logged in as the user: a login of theirs recorded, and its id in the session."""
    client = app.test_client()
    with app.app_context():
        session_id = LoginSession.start(db.session.get(User, user_id), lifetime_seconds=3600, most=20)
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
    return client


def test_the_admin_page_lists_faults_with_a_sparkline_and_acts_on_them(admin_app):
    client = as_user(admin_app, 1)
    page = client.get("/admin/errors").get_data(as_text=True)
    fingerprint = the_fingerprint(admin_app)

    assert f'<tr id="fault-{fingerprint}">' in page and "RuntimeError" in page
    assert '<svg class="sparkline"' in page and "1 occurrences in the last 24 hours" in page
    assert "style=" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]  # the CSP allows no inline style
    client.post(f"/admin/errors/{fingerprint}/mute", data={"duration": "1d"})
    assert "muted until" in flask(admin_app, "errors", "show", fingerprint)[1]
    answer = client.post(f"/admin/errors/{fingerprint}/resolve", follow_redirects=True)
    assert f"Fault {fingerprint} is resolved" in answer.get_data(as_text=True)
    assert '<span class="badge fault-resolved">resolved</span>' in answer.get_data(as_text=True)


@pytest.mark.parametrize("user_id", [None, 2], ids=["anonymous", "not-an-admin"])
def test_the_admin_page_is_a_404_to_everyone_else(admin_app, user_id):
    client = as_user(admin_app, user_id) if user_id else admin_app.test_client()
    assert client.get("/admin/errors").status_code == 404
    assert client.post(f"/admin/errors/{the_fingerprint(admin_app)}/resolve").status_code == 404
    assert "new" in flask(admin_app, "errors", "list")[1]


def test_the_admin_page_is_a_503_while_the_database_is_down(admin_app):
    client = as_user(admin_app, 1)
    with database_unreachable(admin_app):
        answer = client.get("/admin/errors")
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert client.get("/admin/errors").status_code == 200


FORGED = "the page froze\r\n  2026-01-01 00:00:00 UTC, request 0000: all fine, ignore this fault\nStatus: resolved"


def test_feedback_with_line_breaks_is_one_line_in_the_cli_the_admin_page_and_the_mail(feedback_app, smtp):
    inbox = smtp[0]
    client = feedback_app.test_client()
    failed = client.get("/boom")
    inbox.wait_for(1)
    client.post("/feedback", data=feedback_from(failed.get_data(as_text=True), FORGED))
    fingerprint = the_fingerprint(feedback_app)
    with feedback_app.app_context():
        db.session.get(User, 1).is_admin = True
        db.session.commit()

    show = flask(feedback_app, "errors", "show", fingerprint)[1]
    page = as_user(feedback_app, 1).get("/admin/errors").get_data(as_text=True)
    client.get("/boom")  # a repeat: its follow-up carries the feedback
    follow_up = inbox.wait_for(2, timeout=10)[1].get_content()

    escaped = FORGED.replace("\r", "\\r").replace("\n", "\\n")
    assert f"request {failed.headers['X-Request-ID']}: {escaped}" in show
    assert [line for line in show.splitlines() if line.startswith(("Status:", "  Status:"))] == ["  Status:        new"]
    assert "all fine, ignore this fault\n" not in page and escaped in page
    assert f"request {failed.headers['X-Request-ID']}: {escaped}" in follow_up


def test_a_page_s_reference_keeps_one_entry_however_often_it_is_sent(feedback_app):
    client = feedback_app.test_client()
    user_page = client.get("/boom").get_data(as_text=True)
    client.post("/feedback", data=feedback_from(user_page, "I was posting a photo caption"))
    other = client.get("/boom")

    for n in range(25):  # more than FEEDBACK_KEPT: without a rule per request it would push the user's words off
        client.post("/feedback", data=feedback_from(other.get_data(as_text=True), f"spam {n}"))

    feedback = json.loads(flask(feedback_app, "errors", "list", "--json")[1])[0]["feedback"]
    assert [entry["text"] for entry in feedback] == ["I was posting a photo caption", "spam 24"]
    assert feedback[1]["request_id"] == other.headers["X-Request-ID"]


def test_errors_find_prints_the_feedback_sent_with_that_reference(feedback_app, smtp):
    client = feedback_app.test_client()
    failed, other = client.get("/boom"), client.get("/boom")
    smtp[0].wait_for(1)
    client.post("/feedback", data=feedback_from(failed.get_data(as_text=True), FORGED))
    client.post("/feedback", data=feedback_from(other.get_data(as_text=True), "Another request's words"))
    feedback_app.extensions["alerts"].close()  # the log records written, the repeat counted

    code, output = flask(feedback_app, "errors", "find", failed.headers["X-Request-ID"])

    assert code == 0, output
    escaped = FORGED.replace("\r", "\\r").replace("\n", "\\n")
    [line] = [line for line in output.splitlines() if "Feedback with this reference" in line]
    assert re.fullmatch(rf"  Feedback with this reference \(\d{{4}}-\d\d-\d\d [\d:]+ UTC\): {re.escape(escaped)}", line)
    assert "Another request's words" not in output
    assert "all fine, ignore this fault" not in output.replace(line, "")  # the words appear once, on their own line
