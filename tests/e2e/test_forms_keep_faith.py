"""The account forms keep faith with the person typing, at desktop and phone width in Chromium: a password
emptied on purpose is said to be, a failed login is an error of its form, the registered name waits on the
login form, a login limit offers a new password, and each field tells the browser what it holds. axe-core
finds nothing wrong on any of these pages."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_PASSWORD, assert_no_axe_violations, keep_screenshot
from tests.e2e.site import Visitor, assert_site_layout
from tests.support.servers import gunicorn

pytestmark = pytest.mark.slow
PASSWORD = "a long enough passphrase"
EMPTIED = re.compile(r"For your safety, the password fields? (was|were) emptied: please type (it|them) again\.")
SITE_ERROR_BORDER = "rgb(220, 53, 69)"  # site.css's .error-summary: Bootstrap's danger red


@pytest.fixture(scope="module")
def site(server_env, tmp_path_factory):
    """The e2e site with room for the registrations below, and an account that shuts after three failed logins."""
    env = {**server_env, "ACCOUNT_RATE_LIMIT": "1000 per minute", "LOGIN_ATTEMPT_LIMIT": "1000 per minute",
           "LOGIN_ACCOUNT_FAILURE_LIMIT": "3 per minute"}  # fmt: skip
    with gunicorn(tmp_path_factory.mktemp("forms-keep-faith"), env, workers=1) as server:
        yield server


def new_name() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


def fill_registration(page: Page, username: str, email: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()


def test_emptied_passwords_are_explained_and_the_second_send_goes_through(page, site, width):
    visitor, name = Visitor(page, site.url), new_name()
    visitor.open("/register")
    fill_registration(page, "demo1", f"{name}@example.com")  # a taken name

    expect(page.get_by_text("This username is taken. Please choose another one.")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(EMPTIED)
    expect(page.get_by_label("Email")).to_have_value(f"{name}@example.com")  # kept: nothing is lost but passwords
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert_no_axe_violations(page)
    keep_screenshot(page, "register-passwords-emptied", width)

    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("Please fill this in.")).to_have_count(0)


def test_the_registered_name_waits_on_the_login_form_and_leads_home(page, site, width):
    visitor, name = Visitor(page, site.url), new_name()
    visitor.open("/register")
    fill_registration(page, name, f"{name}@example.com")

    expect(page.get_by_role("alert")).to_contain_text("Welcome to Microblog! Log in with the password you just chose.")
    expect(page.get_by_label("Username")).to_have_value(name)
    assert_no_axe_violations(page)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(site.url + "/")
    expect(page.locator("nav").get_by_role("link", name="Profile")).to_have_attribute("href", f"/user/{name}")
    assert_site_layout(page)


def test_a_failed_login_is_an_error_of_its_form(page, site, width):
    visitor = Visitor(page, site.url)
    visitor.open("/login")
    page.get_by_label("Username").fill("demo2")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    error = page.get_by_role("alert").filter(has_text="Invalid username or password.")
    expect(error).to_have_class(re.compile(r"\berror-summary\b"))
    expect(error).to_have_css("border-top-color", SITE_ERROR_BORDER)
    expect(error).to_contain_text(EMPTIED)
    expect(page.locator(".alert-info")).to_have_count(0)
    summary_id = error.get_attribute("id")
    assert summary_id and error.locator("xpath=ancestor::form").get_attribute("aria-describedby") == summary_id
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_label("Username")).to_have_value("demo2")
    assert_no_axe_violations(page)
    keep_screenshot(page, "login-failed", width)

    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("nav").get_by_role("button", name="Log out")).to_be_visible()


def test_the_429_after_failed_logins_offers_a_new_password(page, site, watch, width):
    watch.expected_statuses.add(429)
    visitor, account = Visitor(page, site.url), f"shut{width}"
    for _ in range(4):
        visitor.open("/login")
        page.get_by_label("Username").fill(account)
        page.get_by_label("Password").fill("a wrong guess")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

    expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "error-429-forgot-password", width)
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()


ACCOUNT_FIELDS = {
    "/register": {"Username": ("text", "username"), "Email": ("email", "email"),
                  "Password": ("password", "new-password"), "Repeat password": ("password", "new-password")},
    "/login": {"Username": ("text", "username"), "Password": ("password", "current-password")},
    "/reset_password_request": {"Email": ("email", "email")},
    "/change_password": {"Current password": ("password", "current-password"),
                         "New password": ("password", "new-password"),
                         "Repeat new password": ("password", "new-password")},
    "/edit_profile": {"Username": ("text", "username"), "Display name": ("text", "name")},
}  # fmt: skip


def test_each_account_field_tells_the_browser_what_it_holds(page, site, width):
    visitor = Visitor(page, site.url)
    for path in ("/register", "/login", "/reset_password_request"):
        check_fields(visitor, path)
    visitor.log_in("demo2")
    for path in ("/change_password", "/edit_profile"):
        check_fields(visitor, path)


def check_fields(visitor: Visitor, path: str) -> None:
    visitor.open(path)
    for label, (kind, autocomplete) in ACCOUNT_FIELDS[path].items():
        field = visitor.page.get_by_label(label, exact=True)
        assert field.evaluate("input => [input.type, input.autocomplete]") == [kind, autocomplete], (path, label)
    assert_no_axe_violations(visitor.page)


def test_the_site_still_checks_an_address_the_browser_let_through(page, site, width):
    Visitor(page, site.url).open("/reset_password_request")
    page.get_by_label("Email").fill("not an address")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("Enter an email address like name@example.com.")).to_be_visible()
