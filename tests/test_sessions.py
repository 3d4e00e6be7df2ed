"""Sessions that can be revoked: logout, log out everywhere, a new cookie at each login."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD
from tests.support.visitor import csrf_token


def log_in(client, user, remember=True):
    data = {"username": user.username, "password": PASSWORD}
    if remember:
        data["remember_me"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def cookie(client, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, name
    return found.value


def is_logged_in(client) -> bool:
    return client.get("/").status_code == 200


def a_browser_with(app, **cookies):
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser


def test_the_remember_cookie_changes_at_each_login(app, make_user):
    user = make_user()
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, user)
    log_in(phone, user)
    assert cookie(laptop, "remember_token") != cookie(phone, "remember_token")


def test_the_remember_cookie_lasts_two_weeks_not_a_year(client, make_user):
    log_in(client, make_user())
    expires = client.get_cookie("remember_token").expires
    assert expires <= datetime.now(UTC) + timedelta(days=14, minutes=1)


def test_after_logout_the_old_cookies_no_longer_log_in(app, client, make_user):
    log_in(client, make_user())
    old_session, old_remember = cookie(client, "session"), cookie(client, "remember_token")
    assert client.post("/logout").status_code == 302

    assert not is_logged_in(a_browser_with(app, session=old_session))
    assert not is_logged_in(a_browser_with(app, remember_token=old_remember))


def test_login_starts_a_fresh_session(client, make_user):
    user = make_user()
    with client.session_transaction() as before:
        before["planted"] = "by whoever set this cookie before the login"
    log_in(client, user)
    with client.session_transaction() as after:
        assert "planted" not in after


def test_log_out_everywhere_ends_every_session_of_the_user(app, make_user):
    user, other = make_user(), make_user()
    laptop, phone, someone_else = app.test_client(), app.test_client(), app.test_client()
    log_in(laptop, user)
    log_in(phone, user)
    log_in(someone_else, other)
    phone_remember = cookie(phone, "remember_token")

    response = laptop.post("/logout_everywhere")

    assert response.status_code == 302
    assert not is_logged_in(laptop)
    assert not is_logged_in(phone)
    assert not is_logged_in(a_browser_with(app, remember_token=phone_remember))
    assert is_logged_in(someone_else)


def test_the_profile_offers_log_out_everywhere_as_a_form(client, auth, make_user):
    user = make_user()
    auth.login(user)
    page = client.get(f"/user/{user.username}").get_data(as_text=True)
    assert 'action="/logout_everywhere" method="post"' in page
    assert client.get("/logout_everywhere").status_code == 405


class TestWithCsrf:
    """Log out everywhere is a POST with the form's CSRF token: a foreign page cannot end a user's sessions."""

    @pytest.fixture
    def config_overrides(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_without_the_token_nothing_happens(self, client, make_user):
        user = make_user()
        token = csrf_token(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
        assert is_logged_in(client)

        assert client.post("/logout_everywhere").status_code == 400
        assert is_logged_in(client)


class TestSettledAtLogin:
    """The session is complete when the login answers: the pages after it write no cookie.

    A client that keeps the login's cookie as it was (a load harness, a script, a browser whose cookie
    update was lost) would otherwise get a new session cookie on every page, each one a signature.
    """

    @pytest.fixture
    def config_overrides(self):
        return {"WTF_CSRF_ENABLED": True}  # the plain forms' token lives in the session: settled too

    @pytest.mark.parametrize("remember", [False, True])
    @pytest.mark.parametrize("path", ["/", "/explore", "/no/such/page"])
    def test_the_first_page_after_a_login_sets_no_cookie(self, client, make_user, remember, path):
        user = make_user()
        token = csrf_token(client.get("/login").get_data(as_text=True))
        data = {"username": user.username, "password": PASSWORD, "csrf_token": token}
        if remember:
            data["remember_me"] = "y"
        assert client.post("/login", data=data).status_code == 302

        first = client.get(path)

        assert first.status_code in (200, 404)
        assert "Set-Cookie" not in first.headers, first.headers.get("Set-Cookie")

    def test_pages_loaded_with_the_logins_own_cookie_set_none(self, app, client, make_user):
        user = make_user()
        token = csrf_token(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
        kept = cookie(client, "session")

        for path in ("/", "/", f"/user/{user.username}", "/explore"):
            answer = a_browser_with(app, session=kept).get(path)
            assert answer.status_code == 200
            assert "Set-Cookie" not in answer.headers, (path, answer.headers.get("Set-Cookie"))
