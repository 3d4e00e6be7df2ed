"""What a person notices on the error pages, walked in Chromium at desktop and phone width, each page passing axe.

The 405's advice fits who is looking, the 500 page's feedback sent empty is thanked, the maintenance page reads
in order with a menu that leads nowhere into the closed site, the headings keep the site's scale, and the
reference shows where quoting it helps. Screenshots: artifacts/screenshots/words-*.png.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import assert_no_axe_violations, keep_screenshot
from tests.e2e.site import Visitor
from tests.support.servers import gunicorn
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def switch_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("words-maintenance") / "maintenance.json"


@pytest.fixture(scope="module")
def site(server_env, tmp_path_factory, switch_file):
    """The e2e site with /raise/<code>, a contact address, its own maintenance switch, and alert mail on (to a
    real SMTP server), so that the 500 page offers its feedback form."""
    folder = tmp_path_factory.mktemp("words")
    with smtp_server() as (_inbox, port):
        env = {**server_env, "CONTACT_EMAIL": "help@microblog.example", "ACCOUNT_RATE_LIMIT": "1000 per minute",
               "MAINTENANCE_FILE": str(switch_file), "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port),
               "ADMINS": "ops@example.com", "ALERT_STATE_PATH": str(folder / "alert-state.sqlite3")}  # fmt: skip
        with gunicorn(folder, env, workers=1, app="tests.e2e.error_pages_app:app") as server:
            yield server


def test_the_405_for_log_out_speaks_to_whoever_is_looking(page, site, watch, width):
    watch.expected_statuses.add(405)
    visitor = Visitor(page, site.url)
    menu = page.get_by_role("navigation", name="Main")

    assert visitor.open("/logout").status == 405
    expect(menu.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_text("You are not logged in, so there is nothing to log out of.")).to_be_visible()
    expect(page.get_by_text("Log out button")).to_have_count(0)
    assert_no_axe_violations(page)
    keep_screenshot(page, "405-visitor", width, "words")

    visitor.log_in("demo1")
    assert visitor.open("/logout").status == 405
    expect(menu.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text("To log out, use the Log out button in the menu at the top of the page.")).to_be_visible()
    assert_no_axe_violations(page)


def test_feedback_sent_empty_is_thanked_and_says_nothing_was_written(page, site, watch, width):
    watch.expected_statuses.add(500)
    reference = Visitor(page, site.url).open("/demo/error").header_value("x-request-id")
    expect(page.get_by_text("Optional.", exact=False)).to_be_visible()

    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(
        page.get_by_text("Nothing was written, and nothing more is needed: the team already has the error.")
    ).to_be_visible()
    expect(page.get_by_text("Please fill this in.")).to_have_count(0)
    expect(page.get_by_text(f"Reference: {reference}")).to_be_visible()
    assert_no_axe_violations(page)
    keep_screenshot(page, "feedback-empty", width, "words")


def test_the_maintenance_page_with_a_kept_form_reads_in_order_with_no_way_into_the_closed_site(
    page, site, watch, width, switch_file
):
    visitor = Visitor(page, site.url)
    visitor.open("/login")
    page.get_by_label("Username").fill("ann-typed-this")
    page.get_by_label("Password").fill("not-kept")
    until = datetime.now(UTC) + timedelta(minutes=30)
    switch_file.write_text(json.dumps({"until": until.isoformat(), "message": "New disks.", "pass": "p"}))
    try:
        watch.expected_statuses.add(503)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Microblog is closed for planned work")).to_be_visible()
        text = " ".join(page.locator("main").inner_text().split())
        sentences = [
            f"It will be back in about 30 minutes ({until:%H:%M} UTC",  # and its day, past midnight UTC
            "New disks.",
            "What you sent was not saved.",
            "Here is what you typed, to copy and send again once we are back",
        ]
        assert all(sentence in text for sentence in sentences), text
        assert [text.index(sentence) for sentence in sentences] == sorted(text.index(s) for s in sentences), text
        assert "That is in" not in text
        expect(page.get_by_label("Username")).to_have_value("ann-typed-this")
        menu = page.get_by_role("navigation", name="Main")
        expect(menu).to_contain_text("Microblog")
        expect(menu.get_by_role("link")).to_have_count(0)  # every link would lead to this same page
        expect(menu.get_by_role("button")).to_have_count(0)
        assert_no_axe_violations(page)
        keep_screenshot(page, "503-maintenance-kept-form", width, "words")
    finally:
        switch_file.unlink()


def heading_style(page: Page) -> dict:
    return page.locator("h1").evaluate(
        "h => { const s = getComputedStyle(h); return {size: s.fontSize, weight: s.fontWeight, line: s.lineHeight}; }"
    )


@pytest.mark.parametrize(("path", "code"), [("/no/such/page", 404), ("/logout", 405), ("/raise/429", 429),
                                            ("/demo/error", 500), ("/raise/503", 503)])  # fmt: skip
def test_error_headings_keep_the_site_s_heading_scale(page, site, watch, width, path, code):
    visitor = Visitor(page, site.url)
    visitor.open("/explore")
    site_heading = heading_style(page)
    watch.expected_statuses.add(code)

    assert visitor.open(path).status == code

    assert heading_style(page) == site_heading
    assert_no_axe_violations(page)


@pytest.mark.parametrize(("path", "code", "shown"), [("/no/such/page", 404, False), ("/logout", 405, False),
                                                     ("/raise/429", 429, True), ("/demo/error", 500, True),
                                                     ("/raise/503", 503, True)])  # fmt: skip
def test_the_reference_shows_where_quoting_it_helps(page, site, watch, width, path, code, shown):
    watch.expected_statuses.add(code)
    response = Visitor(page, site.url).open(path)
    reference = response.header_value("x-request-id")

    assert response.status == code
    if shown:
        expect(page.get_by_text(f"Reference: {reference}")).to_be_visible()
        expect(page.get_by_text("and quote the reference below")).to_be_visible()
    else:
        expect(page.get_by_text("Reference:")).to_have_count(0)
        expect(page.get_by_text(reference)).to_have_count(0)
        expect(page.get_by_text("If you need help, write to help@microblog.example.")).to_be_visible()
    assert_no_axe_violations(page)
