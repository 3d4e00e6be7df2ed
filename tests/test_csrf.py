"""With CSRF protection on, as in production, state-changing forms need the token."""

import re

import pytest


@pytest.fixture
def config_overrides():
    return {"WTF_CSRF_ENABLED": True}


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_post_without_token_is_refused(client, make_user):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": "x"})
    assert response.status_code == 400


def test_login_and_follow_with_tokens(client, make_user):
    from tests.conftest import PASSWORD

    me, other = make_user(), make_user()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": me.username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.post(f"/follow/{other.username}").status_code == 400
    profile = client.get(f"/user/{other.username}").get_data(as_text=True)
    response = client.post(f"/follow/{other.username}", data={"csrf_token": csrf_token(profile)})
    assert response.status_code == 302
