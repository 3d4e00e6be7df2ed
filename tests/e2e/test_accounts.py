"""Accounts in a real browser: change the password, reset it by mail, log out everywhere."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_PASSWORD, SECRET_KEY, flask_command
from tests.e2e.site import Visitor, assert_site_layout
from tests.support.servers import free_port, gunicorn
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.slow

NEW_PASSWORD = "a new and longer passphrase"
RESET_LINK = re.compile(r"http://\S+/reset_password\?token=\S+")


@pytest.fixture(scope="module")
def inbox():
    with smtp_server() as (inbox, port):
        inbox.port = port
        yield inbox


@pytest.fixture(scope="module")
def accounts_server(tmp_path_factory, inbox):
    """gunicorn on its own seeded database (demo1..demo4), mailing through the real SMTP server."""
    folder = tmp_path_factory.mktemp("e2e-accounts")
    port = free_port()
    env = {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{folder / 'accounts.db'}",
        "LOG_DIR": str(folder / "logs"),
        "FLASK_DEBUG": "0",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(inbox.port),
        "MAIL_DEFAULT_SENDER": "microblog@example.com",
        "SITE_URL": f"http://127.0.0.1:{port}",  # required with mail in production (gunicorn's default)
    }
    flask_command(env, "db", "upgrade")
    flask_command(env, "seed", "--users", "4", "--posts", "4", "--follows", "0")
    with gunicorn(folder, env, workers=2, port=port) as server:
        yield server


@pytest.fixture
def visitor(page, accounts_server) -> Visitor:
    return Visitor(page, accounts_server.url)


def open_profile_of(visitor: Visitor, name: str) -> None:
    visitor.page.locator("nav").get_by_role("link", name="Profile").click()
    expect(visitor.page.get_by_role("heading", name=name)).to_be_visible()


def test_change_the_password(visitor, page: Page, screenshot):
    visitor.log_in("demo1")
    open_profile_of(visitor, "demo1")
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill("not the password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your current password is not right.")).to_be_visible()
    assert_site_layout(page)
    screenshot("change-password-wrong-current")

    page.get_by_label("Current password").fill(DEMO_PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("Your password has been changed.")

    visitor.log_out()
    visitor.log_in("demo1", NEW_PASSWORD)


def test_reset_a_forgotten_password_by_mail(visitor, page: Page, inbox, screenshot):
    visitor.open("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("demo2@example.com")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("alert")).to_contain_text("If an account uses this address, a mail")
    screenshot("reset-requested")

    mail = next(m for m in reversed(inbox.wait_for(1)) if m["To"] == "demo2@example.com")
    page.goto(RESET_LINK.search(mail.get_content()).group(0))
    expect(page).to_have_url(re.compile(r"/reset_password$"))  # the token is gone from the address bar
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("alert")).to_contain_text("Your password has been changed.")
    assert_site_layout(page)
    screenshot("reset-done")

    visitor.log_in("demo2", NEW_PASSWORD)


def test_log_out_everywhere_ends_the_session_in_another_browser(visitor, page: Page, browser, accounts_server):
    phone_context = browser.new_context()
    try:
        phone = Visitor(phone_context.new_page(), accounts_server.url)
        phone.log_in("demo3")
        visitor.log_in("demo3")

        open_profile_of(visitor, "demo3")
        page.get_by_role("button", name="Log out everywhere").click()
        expect(page.get_by_role("alert")).to_contain_text("You have been logged out everywhere.")

        phone.open("/")
        expect(phone.page).to_have_url(re.compile(r"/welcome$"))  # "/" for a visitor: what Microblog is
        expect(phone.page.locator("nav").get_by_role("link", name="Log in")).to_be_visible()
    finally:
        phone_context.close()
