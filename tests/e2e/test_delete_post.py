"""Deleting your own post in a real browser: the Delete link, the confirmation page, and every list after it."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_no_axe_violations, keep_screenshot
from tests.e2e.site import Visitor

pytestmark = pytest.mark.slow
PASSWORD = "a long enough password"


def new_author(visitor: Visitor) -> tuple[str, str, str]:
    """Register someone new, log them in and write two posts; return their name, the post to keep and the other."""
    name = f"author_{uuid.uuid4().hex[:8]}"
    keep, regret = f"{name} wrote a note worth keeping.", f"{name} wrote a note they regret."
    visitor.register(name, PASSWORD)
    visitor.log_in(name, PASSWORD)
    visitor.post(keep)
    visitor.post(regret)
    expect(visitor.page.get_by_role("alert")).to_contain_text("Your post is now live!")
    return name, keep, regret


def delete_link(page: Page, body: str):
    return page.locator("article.post", has_text=body).get_by_role("link", name="Delete this post")


def test_deleting_a_post_through_the_confirmation(page, live_server, width):
    visitor = Visitor(page, live_server.url)
    name, keep, regret = new_author(visitor)
    expect(delete_link(page, regret)).to_be_visible()

    delete_link(page, regret).click()
    expect(page.get_by_role("heading", name="Delete this post?")).to_be_visible()
    expect(page.get_by_text(regret)).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "delete-post-confirmation", width)

    page.get_by_role("link", name="Cancel").click()  # back to the list, the post untouched
    expect(page).to_have_url(live_server.url + "/")
    delete_link(page, regret).click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Your post was deleted.")

    for path in ("/", "/explore", f"/user/{name}"):
        visitor.open(path)
        expect(page.get_by_text(keep)).to_be_visible()
        expect(page.get_by_text(regret)).to_have_count(0)


def test_only_the_author_sees_the_delete_link(page, live_server):
    visitor = Visitor(page, live_server.url)
    name, keep, regret = new_author(visitor)
    visitor.open("/explore")
    expect(delete_link(page, regret)).to_be_visible()
    visitor.log_out()
    for path in ("/explore", f"/user/{name}"):
        visitor.open(path)
        expect(page.get_by_text(regret)).to_be_visible()
        expect(page.get_by_role("link", name=re.compile("Delete"))).to_have_count(0)


def test_the_confirmation_works_without_javascript(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=False)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        visitor = Visitor(page, live_server.url)
        name, keep, regret = new_author(visitor)
        visitor.open(f"/user/{name}")
        delete_link(page, regret).click()
        page.get_by_role("button", name="Delete", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("Your post was deleted.")
        expect(page).to_have_url(live_server.url + f"/user/{name}")
        expect(page.get_by_text(regret)).to_have_count(0)
    finally:
        context.close()
