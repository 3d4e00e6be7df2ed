"""Sentry: the real SDK sends its envelope to a local HTTP server that stands in for sentry.io."""

import gzip
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from flask import request

from app import create_app
from app.extensions import db
from tests.conftest import config_for_tests
from tests.support.faulty_views import add_faulty_views
from tests.support.outages import sqlite_write_lock
from tests.support.secrets import PLANTED_DB_PASSWORD, PLANTED_PASSWORD, PLANTED_TOKEN


class EnvelopeCollector(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.envelopes.append(body.decode())
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EnvelopeCollector)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sentry_app(tmp_path, collector):
    dsn = f"http://public0key@127.0.0.1:{collector.server_port}/42"
    app = create_app(config_for_tests(tmp_path, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="test"))
    add_faulty_views(app)  # /boom keeps the posted password in a local, and Sentry sends frame locals
    yield app
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # back to no client at all, as before the app started Sentry


def events(collector) -> list[dict]:
    """Return the events in the envelopes received (an envelope is lines of JSON: header, item header, item)."""
    found = []
    for envelope in collector.envelopes:
        lines = envelope.splitlines()
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def test_an_error_reaches_sentry_scrubbed_with_the_release(sentry_app, collector):
    response = sentry_app.test_client().post(
        "/boom?token=" + PLANTED_TOKEN,
        data={"password": PLANTED_PASSWORD, "comment": "hello"},
        headers={"X-Auth-Token": PLANTED_TOKEN, "Cookie": f"session={PLANTED_TOKEN}"},
    )
    sentry_sdk.flush(timeout=10)

    assert response.status_code == 500
    [event] = events(collector)
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["release"] == "microblog@1.0.0" and event["environment"] == "test"
    assert event["request"]["method"] == "POST"
    everything = "\n".join(collector.envelopes)
    for secret in (PLANTED_PASSWORD, PLANTED_TOKEN, PLANTED_DB_PASSWORD):
        assert secret not in everything
    assert "test-secret-key-not-for-production" not in everything


def test_without_a_dsn_nothing_is_initialised(tmp_path):
    assert not sentry_sdk.get_client().is_active()  # no client left over from another test

    create_app(config_for_tests(tmp_path))

    assert not sentry_sdk.get_client().is_active(), "init_sentry started a Sentry client without a DSN"


def test_a_database_error_reaches_sentry_without_the_typed_password_or_any_hash(tmp_path, collector):
    database = tmp_path / "sentry.db"
    dsn = f"http://public0key@127.0.0.1:{collector.server_port}/42"
    settings = {"SENTRY_DSN": dsn, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "DATABASE_TIMEOUT": 0.2}
    app = create_app(config_for_tests(tmp_path, **settings))
    with app.app_context():
        db.create_all()
    typed = {"username": "leaky", "email": "leaky@example.org", "password": PLANTED_PASSWORD}
    try:
        with sqlite_write_lock(database):  # the INSERT waits, then fails with its values in SQLAlchemy's text
            response = app.test_client().post("/register", data={**typed, "password2": PLANTED_PASSWORD})
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)

    assert response.status_code == 503
    everything = "\n".join(collector.envelopes)
    assert "database is locked" in everything  # the event is there, with the real error
    for leak in (PLANTED_PASSWORD, "scrypt:", "pbkdf2:"):
        at = everything.find(leak)
        assert at < 0, everything[max(0, at - 300) : at + 100]


def test_no_cookie_s_value_reaches_sentry_whatever_its_name(sentry_app, collector):
    # Made here, not written out: Sentry sends the source lines around each frame, this test's among them.
    cookies = {"login_device": f"InVzZXIxIg.{uuid.uuid4().hex}", "site_prefs": f"prefs-{uuid.uuid4().hex}"}

    def read_device():
        device = request.cookies["login_device"]  # noqa: F841 - a local on purpose: Sentry sends frame locals
        raise ValueError(f"cannot read {request.cookies['login_device']} next to {request.cookies['site_prefs']}")

    sentry_app.add_url_rule("/read-device", "read_device", read_device)
    client = sentry_app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    client.get("/read-device")
    sentry_sdk.flush(timeout=10)

    [event] = events(collector)
    assert event["exception"]["values"][-1]["value"] == "cannot read ******** next to ********"
    everything = "\n".join(collector.envelopes)
    for value in cookies.values():
        assert value not in everything, value
