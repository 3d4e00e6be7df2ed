"""One set of account rules behind every door: the same attack through the web forms and through the API meets the
same limit, the same answer and the same log line, so a rule cannot land on one door only."""

import logging

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import LoginSession, Post, Token, User
from tests.api.conftest import basic, bearer
from tests.conftest import PASSWORD

OFFICE = "198.51.100.7"


@pytest.fixture
def config_overrides():
    return {"RATELIMIT_ENABLED": True}  # config.py's limits, as in production


class Web:
    """The site's forms, as a browser sends them; each answer read as an outcome both doors share."""

    name = "web"

    def __init__(self, app):
        self.app = app

    def log_in(self, username: str, password: str, address: str = OFFICE, client=None) -> str:
        client = client or self.app.test_client()
        response = client.post("/login", data={"username": username, "password": password},
                               environ_base={"REMOTE_ADDR": address})  # fmt: skip
        return {302: "in", 200: "wrong", 429: "refused"}.get(response.status_code, str(response.status_code))

    def register(self, username: str, email: str, address: str = OFFICE, host: str = "localhost") -> str:
        form = {"username": username, "email": email, "password": PASSWORD, "password2": PASSWORD}
        response = self.app.test_client().post("/register", data=form, environ_base={"REMOTE_ADDR": address},
                                               base_url=f"http://{host}")  # fmt: skip
        if response.status_code == 302:
            return "accepted"
        if response.status_code == 200:
            return "name taken" if "This username is taken" in response.get_data(as_text=True) else "invalid"
        return {429: "refused", 400: "bad request"}.get(response.status_code, str(response.status_code))

    def write_about_me(self, user: User, text: str) -> str:
        client = self.app.test_client()
        assert self.log_in(user.username, PASSWORD, client=client) == "in"
        response = client.post("/edit_profile", data={"username": user.username, "about_me": text})
        return {302: "saved", 400: "invalid", 200: "invalid"}.get(response.status_code, str(response.status_code))

    def write_post(self, user: User, text: str) -> str:
        client = self.app.test_client()
        assert self.log_in(user.username, PASSWORD, client=client) == "in"
        response = client.post("/", data={"post": text})
        return {302: "saved", 400: "invalid", 200: "invalid"}.get(response.status_code, str(response.status_code))


class Api:
    """The JSON API: a token for a password (HTTP Basic), registration as JSON."""

    name = "api"

    def __init__(self, app):
        self.app = app

    def log_in(self, username: str, password: str, address: str = OFFICE, client=None) -> str:
        client = client or self.app.test_client()
        response = client.post("/api/tokens", headers=basic(username, password), environ_base={"REMOTE_ADDR": address})
        return {201: "in", 401: "wrong", 429: "refused"}.get(response.status_code, str(response.status_code))

    def register(self, username: str, email: str, address: str = OFFICE, host: str = "localhost") -> str:
        body = {"username": username, "email": email, "password": PASSWORD}
        response = self.app.test_client().post("/api/users", json=body, environ_base={"REMOTE_ADDR": address},
                                               base_url=f"http://{host}")  # fmt: skip
        statuses = {202: "accepted", 201: "accepted", 409: "name taken", 422: "invalid", 429: "refused"}
        return (statuses | {400: "bad request"}).get(response.status_code, str(response.status_code))

    def token(self, user: User) -> dict:
        response = self.app.test_client().post("/api/tokens", headers=basic(user.username, PASSWORD))
        assert response.status_code == 201, response.get_data(as_text=True)
        return bearer(response.get_json()["token"])

    def write_about_me(self, user: User, text: str) -> str:
        response = self.app.test_client().patch("/api/users/me", json={"about_me": text}, headers=self.token(user))
        return {200: "saved", 422: "invalid"}.get(response.status_code, str(response.status_code))

    def write_post(self, user: User, text: str) -> str:
        response = self.app.test_client().post("/api/posts", json={"body": text}, headers=self.token(user))
        return {201: "saved", 422: "invalid"}.get(response.status_code, str(response.status_code))


DOORS = {"web": Web, "api": Api}


@pytest.fixture(params=DOORS)
def door(request, app):
    return DOORS[request.param](app)


@pytest.fixture(params=[("web", "api"), ("api", "web")], ids=["web-then-api", "api-then-web"])
def two_doors(request, app):
    first, second = request.param
    return DOORS[first](app), DOORS[second](app)


def warnings_from(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("app")]


def test_wrong_passwords_from_many_addresses_close_the_account_at_every_door(two_doors, make_user, caplog):
    """A guesser with many addresses fills the account's window at one door; the other door is closed too."""
    caplog.set_level(logging.INFO, logger="app")
    first, second = two_doors
    make_user("target")
    outcomes = [first.log_in("target", "a guess", address=f"203.0.113.{n}") for n in range(1, 23)]
    assert outcomes[0] == "wrong" and outcomes[-1] == "refused"

    guesses = [second.log_in("target", "a guess", address=f"192.0.2.{n}") for n in range(1, 31)]
    assert set(guesses) == {"refused"}
    assert second.log_in("target", PASSWORD, address="192.0.2.200") == "refused"
    refusals = [m for m in warnings_from(caplog) if "refused" in m and "'target'" in m]
    assert len(refusals) >= 31  # every refusal at both doors is logged with the account and the address


def test_failed_logins_are_logged_alike_at_every_door(door, make_user, caplog):
    caplog.set_level(logging.INFO, logger="app")
    make_user("ann")
    assert door.log_in("ann", "hunter2-secret") == "wrong"
    failed = [m for m in warnings_from(caplog) if "Failed login" in m]
    assert len(failed) == 1 and "'ann'" in failed[0] and OFFICE in failed[0] and "hunter2" not in failed[0]


def test_a_flood_of_right_passwords_from_one_address_is_limited(door, app, make_user):
    """Every login costs a password hash: logins from one address are counted whatever their outcome."""
    person = make_user("ann")
    outcomes = [door.log_in("ann", PASSWORD) for _ in range(15)]
    assert outcomes[0] == "in" and outcomes[-1] == "refused"
    with app.app_context():
        sessions = db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession))
        tokens = db.session.scalar(sa.select(sa.func.count()).select_from(Token).where(Token.user_id == person.id))
    assert sessions + tokens == outcomes.count("in") <= 10


def test_registrations_from_one_address_share_one_limit_across_the_doors(two_doors):
    first, second = two_doors
    outcomes = [first.register(f"new{n}", f"new{n}@example.com") for n in range(5)]
    outcomes += [second.register(f"other{n}", f"other{n}@example.com") for n in range(6)]
    assert outcomes[:10] == ["accepted"] * 10
    assert outcomes[10] == "refused"


def test_a_taken_address_gets_the_same_answer_as_a_free_one(door, app, make_user, smtp):
    """Neither door tells a stranger who has an account: the owner of the address gets a mail instead."""
    inbox, port = smtp
    use_the_smtp_server(app, port)
    make_user("owner", email="owner@example.com")

    free = door.register("newcomer", "newcomer@example.com")
    taken = door.register("someone", "owner@example.com")

    assert free == taken == "accepted"
    subjects = {message["To"]: message["Subject"] for message in inbox.wait_for(2)}
    assert subjects == {"newcomer@example.com": "Welcome to Microblog",
                        "owner@example.com": "Someone tried to register with your address"}  # fmt: skip
    app.extensions["mail"].close(5)


def use_the_smtp_server(app, port: int) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    app.extensions["mail"].relay = app.extensions["mail"].relay.__class__.from_config(app.config)


def test_a_host_the_site_does_not_serve_is_refused_at_every_door(door, make_user):
    assert door.register("newcomer", "newcomer@example.com", host="evil.example") == "bad request"


def test_the_links_mailed_are_on_the_sites_address_whatever_host_was_asked_at_every_door(door, app, make_user, smtp):
    """Even a second name the site answers to (TRUSTED_HOSTS) never reaches a mailed link: SITE_URL does."""
    inbox, port = smtp
    use_the_smtp_server(app, port)
    app.config["TRUSTED_HOSTS"] = [*app.config["TRUSTED_HOSTS"], "internal.example"]
    make_user("owner", email="owner@example.com")

    assert door.register("someone", "owner@example.com", host="internal.example") == "accepted"

    [mail] = inbox.wait_for(1)
    assert "http://localhost/reset_password_request" in mail.get_content() and "internal.example" not in str(mail)
    app.extensions["mail"].close(5)


@pytest.mark.parametrize("text", ["escape \x1b[2J here", "back\x08space", "next line\x85", "nul\x00"])
@pytest.mark.parametrize("where", ["write_about_me", "write_post"])
def test_text_no_one_can_type_is_refused_at_every_door(door, app, make_user, where, text):
    user = make_user("ann")
    assert getattr(door, where)(user, text) == "invalid"
    with app.app_context():
        assert db.session.get(User, user.id).about_me is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Post)) == 0


def test_wrong_current_passwords_are_counted_and_logged_as_failed_logins(app, make_user, caplog):
    """Whoever holds an open session must not be able to guess the password that guards the account."""
    caplog.set_level(logging.INFO, logger="app")
    app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"] = "5 per minute"
    make_user("ann")
    browser = app.test_client()
    assert Web(app).log_in("ann", PASSWORD, client=browser) == "in"
    form = {"current_password": "a guess", "password": "a new password", "password2": "a new password"}

    assert [browser.post("/change_password", data=form).status_code for _ in range(5)] == [200] * 5

    assert Web(app).log_in("ann", PASSWORD, address="192.0.2.1") == "refused"  # the account's window is full
    wrong = [m for m in warnings_from(caplog) if "Wrong current password" in m]
    assert len(wrong) == 5 and "'ann'" in wrong[0] and "a guess" not in wrong[0]


def test_an_accounts_live_logins_and_tokens_are_bounded(app, make_user):
    """A flood of right passwords from many addresses cannot pile up logins: past the bound the oldest end."""
    app.config.update(LIVE_LOGINS_PER_ACCOUNT=3, RATELIMIT_ENABLED=False)
    person = make_user("ann")
    browsers = [app.test_client() for _ in range(5)]
    for browser in browsers:
        assert Web(app).log_in("ann", PASSWORD, client=browser) == "in"
    tokens = [Api(app).token(person) for _ in range(5)]

    assert [browser.get("/").status_code for browser in browsers] == [302, 302, 200, 200, 200]
    timelines = [app.test_client().get("/api/timeline", headers=token).status_code for token in tokens]
    assert timelines == [401] * 2 + [200] * 3


def test_the_api_limit_is_per_token_across_operations(app, make_user):
    app.config["API_RATE_LIMIT"] = "5 per minute"
    person = make_user("ann")
    token = Api(app).token(person)
    client = app.test_client()
    paths = ["/api/timeline", "/api/posts", "/api/users/ann", "/api/users/ann/posts", "/api/timeline", "/api/posts"]

    statuses = [client.get(path, headers=token).status_code for path in paths]

    assert statuses == [200] * 5 + [429]
