"""Every error page in plain words: its title and heading say what happened, what to do next is said,
and no status number, jargon or Werkzeug sentence is shown. JSON answers keep their machine fields."""

import re
from html import unescape

import pytest
from flask import abort
from werkzeug.exceptions import default_exceptions

from tests.conftest import PASSWORD
from tests.support.outages import database_unreachable

BROWSER = {"Accept": "text/html"}
HEADINGS = {
    400: "We could not read what was sent",
    401: "You need to log in",
    403: "You cannot open this page",
    404: "Page not found",
    405: "This page cannot be opened directly",
    408: "What you sent arrived too slowly",
    410: "This page has been removed",
    413: "What you sent is too large",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "The site is busy",
}
WERKZEUG_SENTENCES = [default_exceptions[code].description for code in HEADINGS]
# The pages whose reference someone may need to quote: the site failed (5xx), a limit shut them out (429), or
# what they sent arrived too slowly (408: their connection or the site's deadline, as only the log can tell).
REFERENCE_SHOWN = {408, 429, 500, 503}


@pytest.fixture
def config_overrides():
    return {"DEMO_ERRORS": True}


@pytest.fixture
def app(app):
    def raise_status(code: int):
        if code in (429, 503):
            abort(code, retry_after=54)
        abort(code)

    def fail():
        raise RuntimeError("a fault while a form was sent")

    app.add_url_rule("/raise/<int:code>", "raise", raise_status, methods=["GET", "POST"])
    app.add_url_rule("/fail", "fail", fail, methods=["GET", "POST"])
    return app


def request_for(code: int) -> tuple[str, str, dict]:
    """Return (method, path, options) that make the site answer `code`, for real where the site can."""
    if code == 400:
        return "GET", "/explore?page=%FF", {}
    if code == 404:
        return "GET", "/no-such-page", {}
    if code == 405:
        return "GET", "/logout", {}
    if code == 413:
        return "POST", "/login", {"data": {"username": "x" * (2 * 1024 * 1024)}}
    if code == 500:
        return "GET", "/demo/error", {}
    return "GET", f"/raise/{code}", {}


def title_and_heading(page: str) -> tuple[str, str]:
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
    return unescape(title.strip()), unescape(heading.strip())


def visible_text(page: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("code", HEADINGS)
def test_the_title_and_heading_say_what_happened_without_a_status_number(client, code):
    method, path, options = request_for(code)
    response = client.open(path, method=method, headers=BROWSER, **options)
    page = response.get_data(as_text=True)

    assert response.status_code == code
    assert title_and_heading(page) == (f"{HEADINGS[code]} · Microblog", HEADINGS[code])
    assert not re.search(r"Error\s+\d{3}", visible_text(page))
    for sentence in WERKZEUG_SENTENCES:
        assert sentence not in page
    assert (response.headers["X-Request-ID"] in page) == (code in REFERENCE_SHOWN)


@pytest.mark.parametrize("code", HEADINGS)
def test_the_reference_shows_where_quoting_it_helps(client, app, code):
    app.config["CONTACT_EMAIL"] = "help@microblog.example"
    method, path, options = request_for(code)
    response = client.open(path, method=method, headers=BROWSER, **options)
    text = " ".join(visible_text(response.get_data(as_text=True)).split())
    if code in REFERENCE_SHOWN:
        assert (
            f"help@microblog.example and quote the reference below. Reference: {response.headers['X-Request-ID']}"
            in text
        )
    else:
        assert "If you need help, write to help@microblog.example" in text and "quote the reference" not in text
        assert "Reference" not in text and response.headers["X-Request-ID"] not in text


@pytest.mark.parametrize("code", HEADINGS)
def test_the_heading_has_the_size_of_every_other_page_s(client, code):
    site_heading = re.search(r"<h1[^>]*>", client.get("/explore").get_data(as_text=True)).group(0)
    method, path, options = request_for(code)
    page = client.open(path, method=method, headers=BROWSER, **options).get_data(as_text=True)
    assert re.search(r"<h1[^>]*>", page).group(0) == site_heading


def test_the_429_page_says_how_long_to_wait(client):
    response = client.get("/raise/429", headers=BROWSER)
    text = " ".join(visible_text(response.get_data(as_text=True)).split())
    assert response.headers["Retry-After"] == "54"
    assert "Please wait 54 seconds, then try again." in text


def test_the_413_page_names_the_limit_and_says_nothing_was_saved(client):
    method, path, options = request_for(413)
    text = " ".join(visible_text(client.open(path, method=method, **options).get_data(as_text=True)).split())
    assert "The limit is 1 MB." in text and "Nothing was saved." in text


def test_the_405_page_points_a_logged_in_user_to_the_log_out_button(client, auth, make_user):
    auth.login(make_user())
    page = client.get("/logout").get_data(as_text=True)
    text = " ".join(visible_text(page).split())
    assert "To log out, use the Log out button in the menu at the top of the page." in text
    assert ">Log out</button>" in page  # the button the words point to is in the menu


def test_the_405_for_log_out_tells_a_visitor_there_is_nothing_to_log_out_of(client):
    page = client.get("/logout").get_data(as_text=True)
    text = " ".join(visible_text(page).split())
    assert "You are not logged in, so there is nothing to log out of." in text
    assert "Log out button" not in text and ">Log out</button>" not in page


def test_the_405_for_follow_tells_a_visitor_to_log_in_first(client, make_user):
    text = " ".join(visible_text(client.get(f"/follow/{make_user().username}").get_data(as_text=True)).split())
    assert "To follow someone, log in, then use the Follow button on their profile." in text


def test_the_500_page_says_what_happened_to_a_sent_form(client):
    text = " ".join(visible_text(client.post("/fail", data={"x": "1"}).get_data(as_text=True)).split())
    assert "What you sent was not saved." in text


def test_the_503_page_says_nothing_was_changed(client):
    text = " ".join(visible_text(client.get("/raise/503").get_data(as_text=True)).split())
    assert "Nothing was changed. Please try again in 54 seconds." in text


def test_a_contact_address_is_shown_on_error_pages_only_when_set(client, app):
    assert "mailto:" not in client.get("/demo/error").get_data(as_text=True)
    assert "write to us" not in client.get("/demo/error").get_data(as_text=True)
    app.config["CONTACT_EMAIL"] = "help@microblog.example"
    for path in ("/demo/error", "/raise/503", "/no-such-page"):
        page = client.get(path).get_data(as_text=True)
        assert '<a href="mailto:help@microblog.example">help@microblog.example</a>' in page, path


def test_a_logged_in_user_keeps_the_menu_on_5xx_pages_without_the_database(client, auth, make_user):
    user = make_user()
    auth.login(user)
    assert client.get("/").status_code == 200
    with database_unreachable(client.application):
        page = client.get("/").get_data(as_text=True)  # the 503 page: any query would fail here
    assert f'href="/user/{user.username}">Profile</a>' in page
    assert ">Log out</button>" in page and ">Log in</a>" not in page


def test_the_500_page_keeps_the_menu_of_a_logged_in_user(client, auth, make_user):
    auth.login(make_user())
    page = client.get("/demo/error").get_data(as_text=True)
    assert ">Log out</button>" in page and ">Log in</a>" not in page


def test_after_logging_out_the_5xx_menu_offers_log_in(client, auth, make_user):
    auth.login(make_user())
    client.get("/")
    auth.logout()
    page = client.get("/demo/error").get_data(as_text=True)
    assert ">Log in</a>" in page and ">Log out</button>" not in page


@pytest.mark.parametrize("code", [400, 404, 405, 408, 413, 429, 500, 503])
def test_json_answers_keep_their_fields_and_get_the_plain_detail(client, code):
    method, path, options = request_for(code)
    html_page = client.open(path, method=method, headers=BROWSER, **options).get_data(as_text=True)
    body = client.open(path, method=method, headers={"Accept": "application/json"}, **options).get_json()
    assert body["code"] == code and body["name"] and body["request_id"]
    assert body["title"] == HEADINGS[code]
    assert body["detail"] and body["detail"] not in WERKZEUG_SENTENCES
    assert " ".join(body["detail"].split()) in " ".join(visible_text(html_page).split())


@pytest.mark.parametrize(("path", "code"), [("/api/no-such-thing", 404), ("/api/users", 405)])
def test_problem_details_under_the_api_get_a_plain_detail(client, path, code):
    response = client.open(path, method="DELETE" if code == 405 else "GET")
    body = response.get_json()
    assert response.status_code == code and body["status"] == code
    assert body["detail"] not in WERKZEUG_SENTENCES and body["description"] == body["detail"]


def test_every_page_has_its_own_title_and_the_favicon(client, auth, make_user):
    user = make_user()
    pages = {"/login": "Sign in", "/register": "Register", "/explore": "Explore"}
    pages[f"/user/{user.username}"] = user.username
    for path, title in pages.items():
        page = client.get(path).get_data(as_text=True)
        assert f"<title>{title} · Microblog</title>" in page, path
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    auth.login(user, PASSWORD)
    for path, title in {"/": "Home", "/edit_profile": "Edit profile"}.items():
        assert f"<title>{title} · Microblog</title>" in client.get(path).get_data(as_text=True), path
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
