"""Registering, logging in and out, and where login sends you next."""

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD


def register(client, username="alice", email="alice@example.com", password="s3cret-pass", password2=None):
    data = {"username": username, "email": email, "password": password, "password2": password2 or password}
    return client.post("/register", data=data)


def test_register_creates_account_and_redirects_to_login(client, app):
    response = register(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "alice"))
        assert user.email == "alice@example.com"
        assert user.password_hash != "s3cret-pass" and user.check_password("s3cret-pass")


def test_register_with_taken_username_is_a_form_error(client, make_user):
    # A taken email is not: the form answers as for a new one and mails the owner
    # (tests/test_enumeration.py). Usernames are public on every profile anyway.
    make_user(username="taken", email="taken@example.com")
    response = register(client, username="taken")
    assert response.status_code == 200
    assert "This username is taken" in response.get_data(as_text=True)


def test_register_rejects_mismatched_passwords_and_keeps_the_name(client):
    response = register(client, password="s3cret-pass", password2="other-pass")
    page = response.get_data(as_text=True)
    assert "The passwords differ." in page
    assert 'value="alice"' in page


def test_register_race_on_commit_is_a_form_error(client, make_user, monkeypatch):
    # The other request commits between our check and our commit: skip the check to open that window.
    from app.forms import RegistrationForm

    make_user(username="racer", email="first@example.com")
    monkeypatch.setattr(RegistrationForm, "validate_username", lambda self, field: None)
    response = register(client, username="racer", email="second@example.com")
    assert response.status_code == 200
    assert "This username is taken" in response.get_data(as_text=True)


def test_login_and_logout(client, auth, make_user):
    user = make_user()
    response = auth.login(user)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_login_with_wrong_password_says_so(client, auth, make_user):
    response = auth.login(make_user(), password="wrong")
    assert response.status_code == 200
    assert "Invalid username or password." in response.get_data(as_text=True)


def test_remember_me_sets_an_httponly_cookie(client, auth, make_user):
    auth.login(make_user(), remember_me="y")
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_logout_is_post_only(client):
    assert client.get("/logout").status_code == 405


@pytest.mark.parametrize("target", ["/user/someone", "/explore?page=2"])
def test_login_honours_a_local_next(client, make_user, target):
    user = make_user()
    response = client.post(
        "/login", query_string={"next": target}, data={"username": user.username, "password": PASSWORD}
    )
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "http://evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil",
    ],
)
def test_login_ignores_a_foreign_next(client, make_user, target):
    user = make_user()
    response = client.post(
        "/login", query_string={"next": target}, data={"username": user.username, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_anonymous_visitor_is_sent_to_login_with_next(client):
    response = client.get("/edit_profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_logged_in_user_visiting_login_or_register_goes_home(client, auth, make_user):
    auth.login(make_user())
    assert client.get("/login").headers["Location"] == "/"
    assert client.get("/register").headers["Location"] == "/"


def test_a_failed_login_is_an_error_of_the_form_not_an_information(client, auth, make_user):
    page = auth.login(make_user(), password="wrong").get_data(as_text=True)
    summary = re.search(r'<div class="error-summary" role="alert" id="([\w-]+)"[^>]*>(.*?)</div>', page, re.S)
    assert summary and "Invalid username or password." in summary.group(2)
    form = re.search(r"<form [^>]*>", page).group(0)
    assert f'aria-describedby="{summary.group(1)}"' in form  # the form is described by what went wrong with it
    assert "alert-info" not in page and page.count("Invalid username or password.") == 1
    assert "<title>Error: Sign in · Microblog</title>" in page


def test_after_registering_the_login_form_holds_the_new_name(client):
    answer = register(client, username="alice")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Welcome to Microblog! Log in with the password you just chose." in page
    assert re.search(r'<input[^>]*name="username"[^>]*value="alice"', page)
    assert 'value="alice"' not in client.get("/login").get_data(as_text=True)  # once: the next visit starts empty
