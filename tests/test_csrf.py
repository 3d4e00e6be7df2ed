"""With CSRF protection on, as in production, state-changing forms need the token."""

import html
import re
from html.parser import HTMLParser

import pytest
from flask import render_template_string
from flask_wtf.csrf import generate_csrf

from app.forms import PostForm
from tests.support.signing_clock import signing_clock_moved
from tests.support.visitor import csrf_token

# What a browser sends with a form from the site's own page (the expired-form page refills only those).
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}


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
    client.get("/")  # the page the post is typed on (login renewed the session; this puts a form token in it)
    typed = "My long thought\nthat I do not want to lose"
    response = client.post("/", data={"post": typed, "csrf_token": "stale"}, headers=SAME_ORIGIN)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<title>This form has expired · Microblog</title>" in page and "Error 400" not in page
    assert f"{typed}</textarea>" in page
    assert response.headers["X-Request-ID"] not in page  # the page itself puts it right: nothing to look up
    resent = client.post("/", data={"post": typed, "csrf_token": csrf_token(page)}, headers=SAME_ORIGIN)
    assert resent.status_code == 302
    assert "My long thought" in client.get("/").get_data(as_text=True)


def test_expired_login_form_keeps_the_name_but_not_the_password(client, make_user):
    user = make_user()
    client.get("/login")  # the form the user fills in: its token is in the session
    form = {"username": user.username, "password": "hunter2-secret"}
    page = client.post("/login", data=form, headers=SAME_ORIGIN).get_data(as_text=True)
    assert f'value="{user.username}"' in page
    assert "hunter2-secret" not in page
    assert 'type="password"' in page


def test_token_past_its_time_limit_is_the_expired_page(client, app, make_user):
    app.config["WTF_CSRF_TIME_LIMIT"] = 1
    login_with_token(client, make_user())
    token = csrf_token(client.get("/").get_data(as_text=True))
    with signing_clock_moved(2):  # sent two seconds later: past the one-second limit
        response = client.post("/", data={"post": "typed before lunch", "csrf_token": token}, headers=SAME_ORIGIN)
    assert response.status_code == 400
    assert "typed before lunch" in response.get_data(as_text=True)


def test_expired_page_is_json_for_api_clients(client):
    response = client.post("/login", data={"username": "x"}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.get_json()["code"] == 400


def expired_login(client, user, **fields):
    """Open the login form at /login?next=/explore, then send it with a token that no longer holds."""
    client.get("/login?next=/explore")
    form = {"username": user.username, "password": "hunter2-secret", "csrf_token": "stale", **fields}
    return client.post("/login?next=%2Fexplore", data=form, headers=SAME_ORIGIN)


def test_expired_login_form_shows_remember_me_as_a_ticked_checkbox(client, make_user):
    page = expired_login(client, make_user(), remember_me="y").get_data(as_text=True)
    checkbox = re.search(r'<input[^>]*name="remember_me"[^>]*>', page).group(0)
    assert 'type="checkbox"' in checkbox and "checked" in checkbox
    assert '<label class="form-check-label" for="remember_me">Remember me</label>' in page


def test_expired_login_form_names_the_field_to_type_again_and_claims_nothing_else(client, make_user):
    page = " ".join(html.unescape(expired_login(client, make_user()).get_data(as_text=True)).split())
    assert "For your safety we never keep passwords: please type your Password again." in page
    assert "Nothing you typed is lost" not in page
    assert "hunter2-secret" not in page


def test_expired_login_form_keeps_next_and_goes_there_after_sending_again(client, make_user):
    from tests.conftest import PASSWORD

    user = make_user()
    page = expired_login(client, user).get_data(as_text=True)
    assert 'action="/login?next=%2Fexplore"' in page
    resent = client.post(
        "/login?next=%2Fexplore",
        data={"username": user.username, "password": PASSWORD, "csrf_token": csrf_token(page)},
        headers=SAME_ORIGIN,
    )
    assert resent.status_code == 302 and resent.headers["Location"] == "/explore"


class FormShape(HTMLParser):
    """The tags, attributes and texts of the first <form> that has a field named "post", blanks ignored."""

    def __init__(self, page: str):
        super().__init__()
        self.inside, self.done, self.shape = False, False, []
        self.feed(page[page.rindex("<form", 0, page.index('name="post"')) :])

    def handle_starttag(self, tag, attrs):
        if tag == "form" and not self.done:
            self.inside = True
        if self.inside:
            self.shape.append(
                (
                    tag,
                    sorted(
                        (name, "TOKEN" if name == "value" and value and len(value) > 40 else value)
                        for name, value in attrs
                    ),
                )
            )

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside, self.done = False, True

    def handle_data(self, data):
        if self.inside and data.strip():
            self.shape.append(data.strip())


def test_the_plain_post_box_is_the_same_form_as_the_post_form(app, client, make_user):
    """Home shows the post box as plain HTML on a visit and as the PostForm after a failed post."""
    login_with_token(client, make_user())
    home = client.get("/").get_data(as_text=True)
    plain = FormShape(home).shape
    with app.test_request_context("/"):
        rendered = render_template_string('{% include "_form.html" %}', form=PostForm())
    assert plain == FormShape(rendered).shape
    assert (
        "textarea",
        [
            ("class", "form-control"),
            ("id", "post"),
            ("maxlength", "280"),
            ("minlength", "1"),
            ("name", "post"),
            ("required", None),
        ],
    ) in plain
    response = client.post("/", data={"post": "Sent from the plain box", "csrf_token": csrf_token(home)})
    assert response.status_code == 302 and "Sent from the plain box" in client.get("/").get_data(as_text=True)


def page_token(client, path: str = "/") -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def test_a_page_token_is_signed_once_a_minute_per_session_and_stays_valid(client, app, make_user, monkeypatch):
    from app import templating

    signings = []
    monkeypatch.setattr(templating, "generate_csrf", lambda: signings.append(1) or generate_csrf())
    tokens = app.jinja_env.globals["csrf_token"]
    now = [1000.0]
    tokens.clock = lambda: now[0]
    me, other = make_user(), make_user()
    login_with_token(client, me)
    first = page_token(client)
    assert page_token(client, f"/user/{other.username}") == first
    assert len(signings) == 1  # signed once, handed out again
    now[0] += 61
    later = page_token(client)
    assert len(signings) == 2  # a minute on: signed anew
    assert client.post(f"/follow/{other.username}", data={"csrf_token": first}).status_code == 302
    assert client.post(f"/unfollow/{other.username}", data={"csrf_token": later}).status_code == 302


def test_a_page_token_is_its_own_sessions(app, make_user):
    ann_client, bob_client = app.test_client(), app.test_client()
    ann, bob = make_user(), make_user()
    login_with_token(ann_client, ann)
    login_with_token(bob_client, bob)
    ann_token, bob_token = page_token(ann_client), page_token(bob_client)
    assert ann_token != bob_token
    assert bob_client.post(f"/follow/{ann.username}", data={"csrf_token": ann_token}).status_code == 400
    assert bob_client.post(f"/follow/{ann.username}", data={"csrf_token": bob_token}).status_code == 302


def test_a_short_time_limit_shortens_the_reuse(client, app, make_user):
    app.config["WTF_CSRF_TIME_LIMIT"] = 1  # reused for a sixtieth of it at most: never an expired token
    other = make_user()
    login_with_token(client, make_user())
    now = [1000.0]
    app.jinja_env.globals["csrf_token"].clock = lambda: now[0]
    first = page_token(client)
    now[0] += 2  # past the limit, for the page tokens' reuse and for itsdangerous alike
    with signing_clock_moved(2):
        fresh = page_token(client)
        assert fresh != first
        assert client.post(f"/follow/{other.username}", data={"csrf_token": fresh}).status_code == 302
