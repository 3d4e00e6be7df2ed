"""What a newcomer meets first, in a real browser at desktop and phone width: the welcome page and an empty home."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_axe_violations, keep_screenshot
from tests.e2e.site import Visitor

pytestmark = pytest.mark.slow
PASSWORD = "a long enough password"


def test_a_visitors_first_page_says_what_microblog_is(page, live_server, width):
    visitor = Visitor(page, live_server.url)
    visitor.open("/")
    expect(page).to_have_url(live_server.url + "/welcome")
    content = page.locator("main")
    expect(content.get_by_text("Microblog is a small place to post short notes and follow people")).to_be_visible()
    for name in ("Log in", "Register", "Explore"):
        expect(content.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "welcome", width)
    content.get_by_role("link", name="Register", exact=True).click()
    expect(page).to_have_url(live_server.url + "/register")


def test_an_empty_home_timeline_points_to_explore(page, live_server, width):
    visitor = Visitor(page, live_server.url)
    name = f"newcomer_{uuid.uuid4().hex[:8]}"
    visitor.register(name, PASSWORD)
    visitor.log_in(name, PASSWORD)
    expect(page.get_by_text("Nothing here yet: find people to follow on Explore.")).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "home-empty", width)
    page.locator("main").get_by_role("link", name="Explore").click()
    expect(page).to_have_url(re.compile(r"/explore$"))
