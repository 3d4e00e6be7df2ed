"""The error pages hold when the database is the fault (a 503), and when even a template fails."""

import re

import pytest
from flask import g
from jinja2 import ChoiceLoader, DictLoader

from app.errors.handlers import fallback_server_error
from tests.conftest import PASSWORD
from tests.support.outages import database_unreachable


@pytest.fixture
def config_overrides():
    return {
        "DEMO_ERRORS": True,
        "LAST_SEEN_INTERVAL": 0,
        "PROXY_FIX_X_FOR": 1,
    }  # the tests play the proxy (X-Request-ID)


def assert_styled_500(response):
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert 'class="navbar-brand"' in page and "Something went wrong" in page
    assert response.headers["X-Request-ID"] in page
    return page


def assert_styled_503(response):
    """The page for a database that cannot be reached: in the site's look, with its reference and Retry-After."""
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert 'class="navbar-brand"' in page and "The site is busy" in page
    assert response.headers["X-Request-ID"] in page
    return page


def test_logged_in_user_gets_the_503_page_while_the_database_is_down(client, auth, make_user):
    user = make_user()
    auth.login(user)
    assert client.get("/").status_code == 200
    with database_unreachable(client.application):
        page = assert_styled_503(client.get("/"))
        # The menu's name comes from the session: loading the user would have failed.
        assert f'href="/user/{user.username}">Profile</a>' in page
        assert_styled_503(client.get("/explore", headers={"Accept": "text/html"}))
        json_response = client.get("/explore", headers={"Accept": "application/json"})
        assert json_response.status_code == 503 and json_response.get_json()["code"] == 503
    # The database is back: the next request works, with no restart.
    response = client.get("/")
    assert response.status_code == 200 and user.username in response.get_data(as_text=True)


def test_the_503_page_for_a_logged_in_user_is_the_template_not_the_fallback_while_the_database_is_down(
    client, auth, make_user, caplog
):
    # Flask-Login's template context loads the user from the database; the error page must not let it.
    auth.login(make_user())
    with database_unreachable(client.application):
        page = assert_styled_503(client.get("/"))
    assert "Try again</a>" in page  # in database_busy.html, not in the static fallback
    assert "The 500 page failed to render" not in caplog.text


def test_login_while_the_database_is_down_is_a_503_then_works(client, make_user):
    user = make_user()
    with database_unreachable(client.application):
        page = assert_styled_503(client.post("/login", data={"username": user.username, "password": PASSWORD}))
    assert user.username in page and PASSWORD not in page  # the name comes back; the password is typed again
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def test_static_fallback_when_the_500_template_fails(app, client):
    broken = DictLoader({"errors/500.html": "{% extends 'base.html' %}{% block content %}{{ 1 / 0 }}{% endblock %}"})
    app.jinja_loader  # noqa: B018 - make Flask build its loader before we wrap it
    app.jinja_env.loader = ChoiceLoader([broken, app.jinja_env.loader])
    response = client.get("/demo/error")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in page and f"Reference: <code>{response.headers['X-Request-ID']}</code>" in page
    assert "Internal Server Error" not in page and "ZeroDivisionError" not in page
    assert client.get("/explore").status_code == 200


MARKUP_ID = '"><script>alert(1)</script>'


def test_static_fallback_never_shows_markup_sent_as_the_request_id(app, client):
    app.jinja_env.loader = ChoiceLoader([DictLoader({"errors/500.html": "{{ 1 / 0 }}"}), app.jinja_env.loader])
    response = client.get("/demo/error", headers={"X-Request-ID": MARKUP_ID})
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "<script>" not in page
    assert re.search(r"Reference: <code>[0-9a-f]{32}</code>", page)  # the id was replaced, not echoed


def test_static_fallback_escapes_the_request_id(app):
    # No request brings markup this far (an X-Request-ID must be letters, digits, `.`, `_` or `-`), so the
    # escaping is checked where it acts: the fallback page, built for an id that holds markup.
    with app.test_request_context("/", headers={"Accept": "text/html"}):
        g.request_id = MARKUP_ID
        page = fallback_server_error().get_data(as_text=True)
    assert "<script>" not in page
    assert "Reference: <code>&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</code>" in page


def test_404_page_failing_falls_back_to_the_500_page(app, client):
    # A failing error page must not end in the server's bare error page.
    app.jinja_env.loader = ChoiceLoader([DictLoader({"errors/404.html": "{{ 1 / 0 }}"}), app.jinja_env.loader])
    assert_styled_500(client.get("/nowhere"))


def test_failed_request_leaves_a_clean_session_for_the_next(client, auth, make_user):
    auth.login(make_user())
    assert client.get("/demo/error").status_code == 500
    assert client.post("/", data={"post": "after the failure"}).status_code == 302
    assert "after the failure" in client.get("/").get_data(as_text=True)


def test_request_id_of_the_500_matches_header_and_page(client):
    response = client.get("/demo/error", headers={"X-Request-ID": "support-ticket-123"})
    assert re.search(r"Reference: <code[^>]*>support-ticket-123</code>", response.get_data(as_text=True))
