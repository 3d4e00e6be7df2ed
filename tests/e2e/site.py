"""What a person does on the site and what every page must look like, in Playwright terms."""

import re

from playwright.sync_api import Page, Response, expect

from tests.e2e.conftest import DEMO_PASSWORD

# Bootstrap's .bg-dark: the navbar has this colour only when Bootstrap's stylesheet applied.
BOOTSTRAP_DARK = "rgb(33, 37, 41)"


def assert_site_layout(page: Page) -> None:
    """Check the page wears the site's look: the navbar is there and Bootstrap's CSS styled it."""
    navbar = page.locator("nav.navbar")
    expect(navbar).to_be_visible()
    expect(navbar.get_by_role("link", name="Microblog")).to_be_visible()
    # Retried until the stylesheet has applied: a page shown after a form's POST may still be loading it.
    expect(navbar).to_have_css("display", "flex")
    expect(navbar).to_have_css("background-color", BOOTSTRAP_DARK)


def assert_security_headers(response: Response) -> None:
    headers = response.all_headers()
    assert "content-security-policy" in headers
    assert headers.get("x-content-type-options") == "nosniff"


class Visitor:
    """A person using the site in one browser page."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url

    def open(self, path: str) -> Response:
        return self.page.goto(self.base_url + path)

    def register(self, username: str, password: str) -> None:
        self.open("/register")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Email").fill(f"{username}@example.com")
        self.page.get_by_label("Password", exact=True).fill(password)
        self.page.get_by_label("Repeat password").fill(password)
        self.page.get_by_role("button", name="Register").click()
        expect(self.page).to_have_url(re.compile(r"/login$"))

    def log_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.open("/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("nav").get_by_role("button", name="Log out")).to_be_visible()

    def post(self, text: str) -> None:
        self.page.get_by_label("Say something").fill(text)
        self.page.get_by_role("button", name="Post").click()

    def log_out(self) -> None:
        self.page.locator("nav").get_by_role("button", name="Log out").click()
