"""A busy or unreachable database is a 503 that gives back what the user typed, and one fault for on-call.

The lock is real: another process holds SQLite's write lock while the app tries to write. (A
read-only PostgreSQL and terminated backends are in test_postgres.py.)
"""

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Post, User
from tests.conftest import PASSWORD
from tests.support.alert_progress import alerts_processed
from tests.support.alerting import alert_settings, subject
from tests.support.outages import database_unreachable, sqlite_write_lock
from tests.support.visitor import csrf_token

TYPED_PASSWORD = "Typed-secret-pw-9313"
TYPED_EMAIL = "leaky.person@example.org"


@pytest.fixture
def config_overrides(tmp_path, smtp):
    return {
        **alert_settings(tmp_path, smtp[1]),
        "LOG_FORMAT": "json",
        "WTF_CSRF_ENABLED": True,
        "DATABASE_TIMEOUT": 0.2,  # give up on the lock quickly, as the ladder's few seconds would in production
        # SQLite in both passes of the suite: the lock is SQLite's. PostgreSQL's cases are in test_postgres.py.
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'busy.db'}",
    }


def database_file(app) -> str:
    with app.app_context():
        return db.engine.url.database


def field_value(page: str, name: str) -> str | None:
    field = re.search(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*>(?:([^<]*)</textarea>)?', page)
    if field is None:
        return None
    value = re.search(r'value="([^"]*)"', field.group(0))
    return value.group(1) if value else (field.group(1) or "")


def register(client, page_path: str = "/register"):
    token = csrf_token(client.get(page_path).get_data(as_text=True))
    data = {"username": "leaky", "email": TYPED_EMAIL, "password": TYPED_PASSWORD, "password2": TYPED_PASSWORD}
    return client.post("/register", data={**data, "csrf_token": token})


def everything_written(app, inbox) -> str:
    logs = "\n".join(path.read_text() for path in Path(app.config["LOG_DIR"]).glob("microblog*.log"))
    mails = "\n".join(str(mail) + mail.get_content() for mail in inbox.messages())
    return logs + "\n" + mails


def test_a_locked_database_at_registration_is_a_503_that_gives_back_the_form(app, client):
    with sqlite_write_lock(database_file(app)):
        response = register(client)

    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "nothing was saved" in page and response.headers["X-Request-ID"] in page
    assert field_value(page, "username") == "leaky" and field_value(page, "email") == TYPED_EMAIL
    assert field_value(page, "password") == "" and TYPED_PASSWORD not in page  # to be typed again
    again = {"username": "leaky", "email": TYPED_EMAIL, "password": TYPED_PASSWORD, "password2": TYPED_PASSWORD}
    resent = client.post("/register", data={**again, "csrf_token": csrf_token(page)})
    assert resent.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_a_locked_database_keeps_a_post_and_sending_it_again_stores_it_once(app, client, make_user):
    user = make_user()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    typed = "A thought I do not want to lose,\non two lines"
    token = csrf_token(client.get("/").get_data(as_text=True))

    with sqlite_write_lock(database_file(app)):
        assert client.get("/explore").status_code == 200  # reading goes on; "last seen" waits for a better time
        response = client.post("/", data={"post": typed, "csrf_token": token})

    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert field_value(page, "post") == typed.replace("\n", "\r\n") or field_value(page, "post") == typed
    assert client.post("/", data={"post": typed, "csrf_token": csrf_token(page)}).status_code == 302
    with app.app_context():
        assert db.session.scalars(sa.select(Post.body)).all() == [typed]


@pytest.fixture
def inbox(smtp):
    return smtp[0]


def test_neither_the_typed_password_nor_a_hash_nor_the_email_leaves_in_a_log_or_a_mail(app, client, inbox):
    with sqlite_write_lock(database_file(app)):
        assert register(client).status_code == 503
    [mail] = inbox.wait_for(1)

    written = everything_written(app, inbox)
    assert "database is locked" in written  # the record is there, and it is the real one
    for leak in (TYPED_PASSWORD, "scrypt:", "pbkdf2:", TYPED_EMAIL):
        assert leak not in written, leak
    [record] = [json.loads(line) for line in written.splitlines() if '"Database unavailable' in line]
    assert record["exception"]["type"] == "OperationalError"
    assert mail["Subject"].startswith(subject("Database unavailable: OperationalError"))


def test_an_outage_across_pages_is_one_database_unavailable_fault(app, client, make_user, inbox):
    user = make_user(username="ann")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    token = csrf_token(client.get("/").get_data(as_text=True))

    with database_unreachable(app):
        statuses = [client.get(path).status_code for path in ("/", "/explore", "/user/ann", "/edit_profile")]
        statuses.append(client.post("/", data={"post": "hello", "csrf_token": token}).status_code)
    with sqlite_write_lock(database_file(app)):
        statuses.append(client.post("/", data={"post": "hello", "csrf_token": token}).status_code)

    assert statuses == [503] * 6
    alerts_processed(app)
    [mail] = inbox.exactly(1)
    assert mail["Subject"].startswith(subject("Database unavailable"))
