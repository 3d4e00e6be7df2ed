"""Error pages as a person meets them: in the site's look, with a reference to quote where the team may need it."""

import pytest
from playwright.sync_api import expect

from tests.e2e.site import Visitor, assert_site_layout
from tests.support.servers import gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture
def visitor(page, live_server) -> Visitor:
    return Visitor(page, live_server.url)


def test_an_unknown_page_is_a_404_in_the_site_look(visitor, page, watch, screenshot):
    watch.expected_statuses.add(404)
    response = visitor.open("/no/such/page")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_text("Reference:")).to_have_count(0)  # a mistyped address: nothing for the team to look up
    expect(page.get_by_text(response.header_value("x-request-id"))).to_have_count(0)
    expect(page.get_by_role("link", name="Go home")).to_be_visible()
    assert_site_layout(page)
    screenshot("error-404")


def test_a_failing_view_is_a_500_page_with_the_request_reference(visitor, page, watch, screenshot):
    visitor.log_in("demo1")
    watch.expected_statuses.add(500)
    response = visitor.open("/demo/error")
    assert response.status == 500
    reference = response.header_value("x-request-id")
    expect(page.get_by_role("heading", name="Something went wrong")).to_be_visible()
    expect(page.get_by_text(f"Reference: {reference}")).to_be_visible()
    assert_site_layout(page)
    screenshot("error-500")


@pytest.fixture(scope="module")
def short_form_server(server_env, live_server, tmp_path_factory):
    """A second server on the same database and key whose forms expire after a second.

    Cookies ignore the port, so a session started on `live_server` is valid here as well.
    """
    folder = tmp_path_factory.mktemp("short-forms")
    with gunicorn(folder, server_env, workers=1, app="tests.e2e.short_csrf_app:app") as server:
        yield server


def test_an_expired_form_is_a_400_page_that_keeps_the_typed_post(visitor, page, watch, short_form_server, screenshot):
    visitor.log_in("demo2")
    page.goto(short_form_server.url + "/")
    page.get_by_label("Say something").fill("Typed before lunch, sent after.")
    page.wait_for_timeout(2500)  # outlive the one-second token (its age is counted in whole seconds)
    watch.expected_statuses.add(400)
    with page.expect_response(short_form_server.url + "/") as answer:
        page.get_by_role("button", name="Post").click()
    assert answer.value.status == 400
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    # The label the form showed: the expired-form page shows each field as its form did.
    expect(page.get_by_label("Say something")).to_have_value("Typed before lunch, sent after.")
    expect(page.get_by_text("Reference:")).to_have_count(0)  # the page itself puts it right
    assert_site_layout(page)
    screenshot("error-400-form-expired")
