"""Changing a password, and resetting a forgotten one by mail through a real SMTP server."""

import logging
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import User
from config import Config
from tests.conftest import PASSWORD
from tests.support.servers import free_port
from tests.support.signing_clock import signing_clock_moved

NEW_PASSWORD = "a brand new passphrase"
RESET_LINK = re.compile(r"https?://\S+/reset_password\?token=[\w.\-]+")
SAME_ANSWER = "If an account uses this address, a mail with a link to choose a new password is on its way"


@pytest.fixture(autouse=True)
def _close_the_outbox(app):
    """Let the app's mail thread finish its deliveries before the SMTP server stops (no transport cut mid-mail)."""
    yield
    app.extensions["mail"].close(5)


def log_in(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def is_logged_in(client) -> bool:
    return client.get("/").status_code == 200


def change_password(client, current, new=NEW_PASSWORD, repeat=None):
    data = {"current_password": current, "password": new, "password2": repeat or new}
    return client.post("/change_password", data=data)


def test_changing_the_password_needs_the_current_one(client, make_user):
    user = make_user()
    log_in(client, user.username)

    response = change_password(client, current="not my password")

    assert response.status_code == 200
    assert "Your current password is not right." in response.get_data(as_text=True)
    client.post("/logout")
    assert log_in(client, user.username).status_code == 302


def test_changing_the_password_ends_the_other_sessions_but_not_this_one(app, make_user):
    user = make_user()
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, user.username)
    log_in(phone, user.username)

    response = change_password(laptop, current=PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(laptop)
    assert not is_logged_in(phone)
    laptop.post("/logout")
    assert log_in(laptop, user.username).status_code == 200  # the old password no longer works
    assert log_in(laptop, user.username, NEW_PASSWORD).status_code == 302


def test_the_change_password_page_needs_login(client):
    assert client.get("/change_password").headers["Location"].startswith("/login")


@pytest.fixture
def mail_settings(smtp):
    inbox, port = smtp
    return inbox, {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_DEFAULT_SENDER": "microblog@example.com"}


@pytest.fixture
def config_overrides(request):
    """The mail settings for the tests that ask for the SMTP server; none for the others."""
    if "mail_settings" in request.fixturenames:
        return request.getfixturevalue("mail_settings")[1]
    return dict(getattr(request, "param", {}))


def ask_for_reset(client, email):
    return client.post("/reset_password_request", data={"email": email}, follow_redirects=True)


def reset_link(inbox, count=1) -> str:
    message = inbox.wait_for(count)[-1]
    return RESET_LINK.search(message.get_content()).group(0)


def follow_link(client, link):
    parts = urlsplit(link)
    return client.get(f"{parts.path}?{parts.query}")


def test_a_reset_link_arrives_by_mail_and_sets_a_new_password(client, mail_settings, make_user):
    inbox, _ = mail_settings
    user = make_user("dora", email="dora@example.com")

    answer = ask_for_reset(client, "Dora@Example.com")

    assert SAME_ANSWER in answer.get_data(as_text=True)
    link = reset_link(inbox)
    message = inbox.messages()[0]
    assert message["To"] == "dora@example.com" and message["From"] == "microblog@example.com"
    landing = follow_link(client, link)
    assert landing.status_code == 302 and landing.headers["Location"] == "/reset_password"  # the token leaves the URL
    done = client.post("/reset_password", data={"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert log_in(client, user.username, NEW_PASSWORD).status_code == 302


def test_a_reset_link_works_once(app, client, mail_settings, make_user):
    inbox, _ = mail_settings
    make_user("erin", email="erin@example.com")
    ask_for_reset(client, "erin@example.com")
    link = reset_link(inbox)
    follow_link(client, link)
    client.post("/reset_password", data={"password": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = app.test_client()
    answer = follow_link(again, link)

    assert answer.status_code == 302 and answer.headers["Location"] == "/reset_password_request"
    assert "invalid or has expired" in again.get("/reset_password_request").get_data(as_text=True)


def test_a_reset_ends_every_session(app, client, mail_settings, make_user):
    inbox, _ = mail_settings
    make_user("fay", email="fay@example.com")
    thief = app.test_client()
    log_in(thief, "fay")
    ask_for_reset(client, "fay@example.com")
    follow_link(client, reset_link(inbox))
    client.post("/reset_password", data={"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert not is_logged_in(thief)


class TestExpiry:
    @pytest.fixture
    def config_overrides(self, mail_settings):
        return {**mail_settings[1], "PASSWORD_RESET_MAX_AGE": 1}

    def test_an_old_link_is_refused(self, client, mail_settings, make_user):
        inbox, _ = mail_settings
        make_user("gus", email="gus@example.com")
        ask_for_reset(client, "gus@example.com")
        link = reset_link(inbox)
        with signing_clock_moved(2):  # followed two seconds later: past its 1 s lifetime
            assert follow_link(client, link).headers["Location"] == "/reset_password_request"


def test_an_unknown_address_gets_the_same_answer_and_no_mail(app, client, mail_settings, make_user):
    inbox, _ = mail_settings
    make_user("hal", email="hal@example.com")

    known = ask_for_reset(client, "hal@example.com")
    unknown = ask_for_reset(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert SAME_ANSWER in known.get_data(as_text=True) and SAME_ANSWER in unknown.get_data(as_text=True)
    assert app.extensions["mail"].flush(10)  # every mail the two requests queued is sent
    assert [m["To"] for m in inbox.exactly(1)] == ["hal@example.com"]


class TestMailDown:
    @pytest.fixture
    def config_overrides(self):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port(), "MAIL_DEFAULT_SENDER": "m@example.com"}

    def test_a_relay_that_refuses_is_logged_and_the_user_is_not_shown_a_500(self, app, client, make_user, caplog):
        caplog.set_level(logging.INFO, logger="app")
        make_user("ivy", email="ivy@example.com")

        answer = ask_for_reset(client, "ivy@example.com")

        assert answer.status_code == 200 and "try again later" in answer.get_data(as_text=True)
        app.extensions["mail"].flush(10)
        failures = [r for r in caplog.records if r.name == "app.mail" and r.levelno >= logging.WARNING]
        assert failures and "password reset" in failures[0].getMessage()
        assert "token" not in failures[0].getMessage().lower()


class TestNoMailServer:
    def test_without_mail_settings_the_user_is_told_to_try_later(self, client, make_user):
        make_user("jo", email="jo@example.com")
        answer = client.post("/reset_password_request", data={"email": "jo@example.com"})
        assert answer.status_code == 503
        page = answer.get_data(as_text=True)
        assert "cannot send mail right now" in page and 'value="jo@example.com"' in page


class TestMailLimit:
    @pytest.fixture
    def config_overrides(self, mail_settings):
        return {**mail_settings[1], "RATELIMIT_ENABLED": True, "ACCOUNT_MAIL_LIMIT": "2 per hour"}

    def test_asking_again_and_again_does_not_flood_the_owners_inbox(self, app, client, mail_settings, make_user):
        inbox, _ = mail_settings
        make_user("kim", email="kim@example.com")

        answers = [ask_for_reset(client, "kim@example.com") for _ in range(4)]

        assert all(SAME_ANSWER in answer.get_data(as_text=True) for answer in answers)
        assert app.extensions["mail"].flush(10)  # every mail the four requests queued is sent
        inbox.exactly(2)


@pytest.mark.parametrize("config_overrides", [{"PASSWORD_HASH_METHOD": Config.PASSWORD_HASH_METHOD}], indirect=True)
def test_a_hash_made_another_way_is_replaced_at_the_next_login(app, client, make_user):
    """Passwords are hashed with scrypt N=2^13, r=8, p=10 (config.py); a login rehashes an older hash once."""
    assert Config.PASSWORD_HASH_METHOD == "scrypt:8192:8:10"
    user = make_user()
    with app.app_context():
        old = generate_password_hash(PASSWORD)  # Werkzeug's default: scrypt:32768:8:1
        db.session.execute(sa.update(User).where(User.id == user.id).values(password_hash=old))
        db.session.commit()

    assert log_in(client, user.username, "not the password").status_code == 200
    with app.app_context():
        assert db.session.get(User, user.id).password_hash == old  # a wrong password changes nothing

    assert log_in(client, user.username).status_code == 302
    with app.app_context():
        rehashed = db.session.get(User, user.id).password_hash
    assert rehashed.startswith("scrypt:8192:8:10$") and check_password_hash(rehashed, PASSWORD)
    client.post("/logout")
    assert log_in(client, user.username).status_code == 302 and is_logged_in(client)
