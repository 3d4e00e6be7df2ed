"""With CSRF protection on, as in production, state-changing forms need the token."""

import pytest

from tests.support.visitor import csrf_token


@pytest.fixture
def config_overrides():
    return {"WTF_CSRF_ENABLED": True}


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


def login_with_token(client, user):
    from tests.conftest import PASSWORD

    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})


def test_expired_form_keeps_the_typed_post_and_sends_it_again(client, make_user):
    login_with_token(client, make_user())
    typed = "My long thought\nthat I do not want to lose"
    response = client.post("/", data={"post": typed, "csrf_token": "stale"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This form has expired" in page and "Error 400" in page
    assert f"{typed}</textarea>" in page
    assert response.headers["X-Request-ID"] in page
    resent = client.post("/", data={"post": typed, "csrf_token": csrf_token(page)})
    assert resent.status_code == 302
    assert "My long thought" in client.get("/").get_data(as_text=True)


def test_expired_login_form_keeps_the_name_but_not_the_password(client, make_user):
    user = make_user()
    page = client.post("/login", data={"username": user.username, "password": "hunter2-secret"}).get_data(as_text=True)
    assert f'value="{user.username}"' in page
    assert "hunter2-secret" not in page
    assert 'type="password"' in page


def test_token_past_its_time_limit_is_the_expired_page(client, app, make_user):
    import time

    app.config["WTF_CSRF_TIME_LIMIT"] = 1
    login_with_token(client, make_user())
    token = csrf_token(client.get("/").get_data(as_text=True))
    time.sleep(2.1)  # past the one-second limit; only a lower bound matters here
    response = client.post("/", data={"post": "typed before lunch", "csrf_token": token})
    assert response.status_code == 400
    assert "typed before lunch" in response.get_data(as_text=True)


def test_expired_page_is_json_for_api_clients(client):
    response = client.post("/login", data={"username": "x"}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.get_json()["code"] == 400
