"""A new user's first visit, end to end, in a real browser against real gunicorn."""

import pytest
from playwright.sync_api import expect

from tests.e2e.site import Visitor, assert_security_headers, assert_site_layout

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password"


@pytest.fixture
def visitor(page, live_server) -> Visitor:
    return Visitor(page, live_server.url)


def test_register_post_follow_edit_and_log_out(visitor, page, screenshot):
    visitor.register("alice", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Welcome to Microblog")
    visitor.log_in("alice", PASSWORD)
    expect(page.get_by_role("heading", name="Hi, alice!")).to_be_visible()
    assert_site_layout(page)

    visitor.post("My first post, from a real browser.")
    expect(page.get_by_role("alert")).to_contain_text("Your post is now live!")
    expect(page.locator("article.post").first).to_contain_text("My first post, from a real browser.")
    screenshot("home")

    response = visitor.open("/explore")
    assert response.status == 200
    assert_security_headers(response)
    expect(page.locator("article.post").first).to_contain_text("My first post, from a real browser.")
    screenshot("explore")

    visitor.open("/user/demo1")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("alert")).to_contain_text("You are following demo1.")
    expect(page.get_by_text("1 follower,")).to_be_visible()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    screenshot("profile")

    visitor.open("/user/alice")
    page.get_by_role("link", name="Edit your profile").click()
    page.get_by_label("Username").fill("demo2")
    page.get_by_label("About me").fill("I test things in browsers.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("This username is taken. Please choose another one.")).to_be_visible()
    expect(page.get_by_label("About me")).to_have_value("I test things in browsers.")
    assert_site_layout(page)
    screenshot("edit-profile-taken-name")

    page.get_by_label("Username").fill("alice")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Your changes have been saved.")

    visitor.log_out()
    expect(page.get_by_role("alert")).to_contain_text("You have been logged out.")
    expect(page.locator("nav").get_by_role("link", name="Log in")).to_be_visible()
    screenshot("logged-out")
