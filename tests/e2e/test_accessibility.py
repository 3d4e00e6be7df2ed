"""Every page and every error page passes axe-core with no violation, at desktop and phone width.

The pages are opened in Chromium against real gunicorn, as a visitor and as a logged-in user, with their
forms failed on purpose; each error page's screenshot is kept in artifacts/screenshots/a11y-*.png.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_no_axe_violations, flask_command, keep_screenshot
from tests.e2e.site import Visitor
from tests.support.servers import gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def switch_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("a11y-maintenance") / "maintenance.json"


@pytest.fixture(scope="module")
def site(server_env, tmp_path_factory, switch_file):
    """The e2e site with /raise/<code>, a contact address and its own maintenance switch."""
    env = {**server_env, "CONTACT_EMAIL": "help@microblog.example", "ACCOUNT_RATE_LIMIT": "1000 per minute",
           "MAINTENANCE_FILE": str(switch_file)}  # fmt: skip
    flask_command(env, "users", "admin", "demo1")
    with gunicorn(tmp_path_factory.mktemp("a11y"), env, workers=1, app="tests.e2e.error_pages_app:app") as server:
        yield server


@pytest.fixture(scope="module")
def limited_site(server_env, tmp_path_factory):
    """The e2e site with one worker whose login form takes two tries a minute."""
    env = {**server_env, "ACCOUNT_RATE_LIMIT": "2 per minute"}
    with gunicorn(tmp_path_factory.mktemp("a11y-limited"), env, workers=1) as server:
        yield server


def fail_form(page: Page, button: str) -> None:
    """Send the page's form empty, so that it comes back with its errors."""
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()


VISITOR_PAGES = {
    "welcome": ("/welcome", None),
    "login": ("/login", None),
    "login-with-errors": ("/login", "Sign in"),
    "register": ("/register", None),
    "register-with-errors": ("/register", "Register"),
    "explore": ("/explore", None),
    "profile": ("/user/demo2", None),
}
USER_PAGES = {
    "home": ("/", None),
    "home-with-errors": ("/", "Post"),
    "explore-logged-in": ("/explore", None),
    "own-profile": ("/user/demo1", None),
    "other-profile": ("/user/demo2", None),
    "edit-profile": ("/edit_profile", None),
    "admin-errors": ("/admin/errors", None),
}


@pytest.mark.parametrize("name", VISITOR_PAGES)
def test_pages_for_a_visitor(page, site, width, name):
    path, failing_button = VISITOR_PAGES[name]
    assert Visitor(page, site.url).open(path).status == 200
    if failing_button:
        fail_form(page, failing_button)
        expect(page).to_have_title(re.compile(r"^Error: "))
    assert_no_axe_violations(page)


@pytest.mark.parametrize("name", USER_PAGES)
def test_pages_for_a_logged_in_user(page, site, width, name):
    visitor = Visitor(page, site.url)
    visitor.log_in("demo1")
    path, failing_button = USER_PAGES[name]
    assert visitor.open(path).status == 200
    if failing_button:
        fail_form(page, failing_button)
        expect(page).to_have_title(re.compile(r"^Error: "))
    assert_no_axe_violations(page)


ERROR_PAGES = {
    "400": (400, "/explore?page=%FF"),
    "401": (401, "/raise/401"),
    "403": (403, "/raise/403"),
    "404": (404, "/no/such/page"),
    "405": (405, "/logout"),
    "410": (410, "/raise/410"),
    "429": (429, "/raise/429"),
    "500": (500, "/demo/error"),
    "503": (503, "/raise/503"),
}


@pytest.mark.parametrize("name", ERROR_PAGES)
def test_error_pages(page, site, watch, width, name):
    code, path = ERROR_PAGES[name]
    watch.expected_statuses.add(code)
    response = Visitor(page, site.url).open(path)
    assert response.status == code
    expect(page.locator("h1")).to_have_count(1)
    assert_no_axe_violations(page)
    keep_screenshot(page, f"error-{name}", width)


def test_the_413_page(page, site, watch, width):
    watch.expected_statuses.add(413)
    visitor = Visitor(page, site.url)
    visitor.log_in("demo1")
    page.get_by_label("Say something").fill("x")
    page.route(site.url + "/", lambda route: route.continue_(post_data="post=" + "x" * (1024 * 1024 + 10)))
    with page.expect_response(site.url + "/") as answer:
        page.get_by_role("button", name="Post").click()
    assert answer.value.status == 413
    expect(page.get_by_role("heading", name="What you sent is too large")).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "error-413", width)


def test_the_real_429_of_the_login_form(page, limited_site, watch, width):
    watch.expected_statuses.add(429)
    visitor = Visitor(page, limited_site.url)
    for _ in range(3):
        visitor.open("/login")
        page.get_by_label("Username").fill("nobody")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Please wait \d+ seconds?, then try again\."))).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "error-429-login", width)


def test_the_expired_login_form(page, site, watch, width):
    visitor = Visitor(page, site.url)
    visitor.open("/login?next=/explore")
    page.get_by_label("Username").fill("demo1")
    page.get_by_label("Password").fill("microblog-demo")
    page.get_by_label("Remember me").check()
    page.locator('input[name="csrf_token"]').evaluate("input => input.value = 'stale'")
    watch.expected_statuses.add(400)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    expect(page.get_by_label("Remember me")).to_be_checked()
    expect(page.get_by_label("Username")).to_have_value("demo1")
    expect(page.get_by_text("please type your Password again")).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "error-400-expired-login", width)
    page.get_by_label("Password").fill("microblog-demo")
    page.get_by_role("button", name="Send again").click()
    expect(page).to_have_url(site.url + "/explore")


def test_the_maintenance_page(page, site, watch, width, switch_file):
    import json
    from datetime import UTC, datetime, timedelta

    until = datetime.now(UTC) + timedelta(minutes=30)
    switch_file.write_text(json.dumps({"until": until.isoformat(), "message": "New disks.", "pass": "p"}))
    try:
        watch.expected_statuses.add(503)
        assert Visitor(page, site.url).open("/explore").status == 503
        expect(page.get_by_role("heading", name="Microblog is closed for planned work")).to_be_visible()
        assert_no_axe_violations(page)
        keep_screenshot(page, "error-503-maintenance", width)
    finally:
        switch_file.unlink()


def test_the_menu_works_without_javascript_at_phone_width(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site.url + "/explore")
        menu = page.get_by_role("navigation", name="Main")
        for name in ("Home", "Explore", "Log in", "Register"):
            expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
        menu.get_by_role("link", name="Log in").click()
        expect(page).to_have_url(site.url + "/login")
    finally:
        context.close()


def test_the_focus_ring_shows_on_the_dark_menu(page, site, width):
    Visitor(page, site.url).open("/explore")
    explore = page.get_by_role("navigation", name="Main").get_by_role("link", name="Explore")
    for _ in range(6):  # the skip link, the brand, Home, then Explore: by keyboard, as focus-visible needs
        page.keyboard.press("Tab")
        if explore.evaluate("link => link === document.activeElement"):
            break
    ring = explore.evaluate(
        "link => { const s = getComputedStyle(link); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
    )
    assert ring == ["solid", "3px", "rgb(255, 191, 71)"]  # #ffbf47 on the menu's #212529: a contrast of 11:1


def test_a_one_page_list_has_no_pagination_and_each_post_one_link(page, site):
    Visitor(page, site.url).open("/explore")
    posts = page.locator("article.post")
    expect(posts.first).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages")).to_have_count(0)
    expect(page.locator(".page-item.disabled")).to_have_count(0)
    expect(page.locator("article.post a")).to_have_count(posts.count())  # the author's name; not the avatar too


def test_the_500_page_keeps_the_logged_in_menu(page, site, watch):
    visitor = Visitor(page, site.url)
    visitor.log_in("demo1")
    watch.expected_statuses.add(500)
    assert visitor.open("/demo/error").status == 500
    menu = page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link", name="Profile")).to_have_attribute("href", "/user/demo1")
    expect(menu.get_by_role("button", name="Log out")).to_be_visible()
