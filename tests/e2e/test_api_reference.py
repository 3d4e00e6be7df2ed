"""The API reference at /api/docs in Chromium: Swagger UI served by the site alone, under its own
Content-Security-Policy, listing every operation of the OpenAPI document; a person can try one from it; axe-core
finds no violation, neither on the page as it opens nor with operations tried or the Authorize dialog open.

Every request to another origin than the site's is aborted and counted, as with no internet access; the page
fixture also fails the test on any console error (a refusal by the Content-Security-Policy is one).
"""

from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import SCREENSHOTS, assert_no_axe_violations


class OwnOriginOnly:
    """Let the page reach the site's own origin (scheme, host and port) and nothing else, as with no internet."""

    def __init__(self, origin: str):
        self.origin = origin
        self.refused: list[str] = []

    def __call__(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in {"data", "blob"} or f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


@pytest.fixture
def reference(page: Page, live_server) -> OwnOriginOnly:
    """Open /api/docs with every other origin cut off; return what was refused."""
    guard = OwnOriginOnly(live_server.url)
    page.route("**/*", guard)
    response = page.goto(live_server.url + "/api/docs")
    assert response.status == 200
    site_policy = requests.get(live_server.url, timeout=10).headers["Content-Security-Policy"]
    assert response.headers["content-security-policy"] == site_policy  # not a policy loosened for this page
    expect(page.locator(".opblock").first).to_be_visible()
    return guard


def documented_operations(base_url: str) -> set[str]:
    paths = requests.get(f"{base_url}/api/openapi.json", timeout=10).json()["paths"]
    return {f"{method.upper()} {path}" for path, item in paths.items() for method in item}


def test_the_reference_lists_every_operation_with_nothing_from_another_host(page, live_server, reference):
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(documented_operations(live_server.url)))
    listed = {
        block.locator(".opblock-summary-method").inner_text()
        + " "
        + block.locator(".opblock-summary-path").get_attribute("data-path")
        for block in blocks.all()
    }
    assert listed == documented_operations(live_server.url)
    expect(page.get_by_role("heading", name="API reference")).to_be_visible()
    assert reference.refused == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-reference.png"), full_page=True)


def test_an_operation_tried_from_the_reference_answers_from_the_site(page, live_server, reference):
    operation = page.locator("#operations-posts-get__api_posts")  # Swagger UI: tag, operationId
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    expect(operation.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(operation.locator(".request-url pre")).to_have_text(f"{live_server.url}/api/posts")  # the newest page
    assert reference.refused == []


def test_the_reference_passes_axe(page, reference, width):
    assert_no_axe_violations(page)


def test_an_operation_tried_and_the_authorize_dialog_pass_axe(page, reference):
    for operation_id in ("posts-get__api_posts", "users-post__api_users"):
        operation = page.locator(f"#operations-{operation_id}")
        operation.locator(".opblock-summary-control").click()
        operation.get_by_role("button", name="Try it out").click()
    page.locator("#operations-posts-get__api_posts").get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    assert_no_axe_violations(page)

    page.get_by_role("button", name="Authorize").first.click()
    expect(page.get_by_role("heading", name="Available authorizations")).to_be_visible()
    assert_no_axe_violations(page)
