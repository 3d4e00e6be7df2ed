"""Login and registration tell a stranger nothing about which accounts exist."""

import statistics
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from config import Config


@pytest.fixture(autouse=True)
def _close_the_outbox(app):
    """Let the app's mail thread finish its deliveries before the SMTP server stops (no transport cut mid-mail)."""
    yield
    app.extensions["mail"].close(5)


def login_time(client, username: str) -> float:
    started = time.perf_counter()
    response = client.post("/login", data={"username": username, "password": "a wrong password"})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return elapsed


def test_a_wrong_password_takes_as_long_for_an_unknown_account_as_for_a_known_one(app, client):
    with app.app_context():
        user = User(username="known", email="known@example.com")
        user.set_password("the real password, hashed as in production")
        db.session.add(user)
        db.session.commit()
    login_time(client, "known"), login_time(client, "nobody")  # warm up

    known = statistics.median(login_time(client, "known") for _ in range(5))
    unknown = statistics.median(login_time(client, "nobody") for _ in range(5))

    assert unknown > 0.6 * known, f"known {known * 1000:.1f} ms, unknown {unknown * 1000:.1f} ms"


def register(client, username, email):
    data = {"username": username, "email": email, "password": "s3cret-pass", "password2": "s3cret-pass"}
    return client.post("/register", data=data, follow_redirects=True)


def test_registering_a_taken_email_answers_as_a_new_one_does(app, client, make_user):
    make_user("owner", email="owner@example.com")

    taken = register(client, "stranger", "owner@example.com")
    fresh = register(client, "newcomer", "newcomer@example.com")

    def visible(response):
        return response.get_data(as_text=True).replace("owner@example.com", "X").replace("newcomer@example.com", "X")

    assert taken.status_code == fresh.status_code == 200
    assert visible(taken) == visible(fresh).replace("newcomer", "stranger")
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(User.username))) == ["newcomer", "owner"]


@pytest.fixture
def config_overrides(request):
    """Passwords hashed as in production (the equal work is the real hash's), and mail for the tests with smtp."""
    production_hash = {"PASSWORD_HASH_METHOD": Config.PASSWORD_HASH_METHOD}
    if "smtp" in request.fixturenames:
        inbox, port = request.getfixturevalue("smtp")
        return {
            **production_hash,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_DEFAULT_SENDER": "microblog@example.com",
        }
    return production_hash


def test_the_owner_of_a_taken_email_gets_a_mail_instead(client, smtp, make_user):
    inbox, _ = smtp
    make_user("owner", email="owner@example.com")

    register(client, "stranger", "Owner@Example.com")

    message = inbox.wait_for(1)[0]
    assert message["To"] == "owner@example.com"
    body = message.get_content()
    assert "Someone just tried to register" in body and "owner" in body and "/reset_password_request" in body
