"""The pages nginx shows when gunicorn cannot answer, as a person sees them: the site's look, the reference.

Real nginx (the committed deploy/nginx files) in front of real gunicorn; the pages come from
`flask errors pages`. nginx waits 2 s here, less than gunicorn's 3 s, so that a stuck request meets its 504.
"""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import flask_command
from tests.e2e.site import assert_site_layout
from tests.support.nginx import nginx
from tests.support.servers import gunicorn, stop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stuck_server(server_env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("proxy-gunicorn")
    with gunicorn(folder, server_env, app="tests.support.stuck_app:app", args=("--timeout", "3")) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(server_env, stuck_server, tmp_path_factory):
    pages = tmp_path_factory.mktemp("error-pages")
    flask_command(server_env, "errors", "pages", str(pages))
    port = int(stuck_server.url.rsplit(":", 1)[1])
    with nginx(tmp_path_factory.mktemp("nginx"), port, pages, read_timeout="2s") as running:
        yield running


@pytest.fixture
def context(browser, watch):
    """The suite's context, also accepting nginx's self-signed certificate (made for 127.0.0.1, not localhost)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    context.route("**/*", watch.on_request)
    yield context
    context.close()


def assert_reference_is_nginx_request_id(page, response) -> None:
    request_id = response.header_value("x-request-id")
    assert request_id and len(request_id) == 32
    expect(page.get_by_text(f"Reference: {request_id}")).to_be_visible()


def test_a_request_past_every_deadline_is_the_styled_504(page, watch, proxy, screenshot):
    watch.expected_statuses.add(504)
    response = page.goto(proxy.https_url + "/stuck/c")
    assert response.status == 504
    expect(page.get_by_role("heading", name="That took too long")).to_be_visible()
    assert_reference_is_nginx_request_id(page, response)
    assert_site_layout(page)
    screenshot("proxy-504")


def test_gunicorn_down_is_the_styled_502(page, watch, proxy, stuck_server, screenshot):
    stop(stuck_server.process)  # the module's last test: the server stays down
    watch.expected_statuses.add(502)
    response = page.goto(proxy.https_url + "/explore")
    assert response.status == 502
    expect(page.get_by_role("heading", name="The site is not answering")).to_be_visible()
    assert_reference_is_nginx_request_id(page, response)
    assert_site_layout(page)
    screenshot("proxy-502")
