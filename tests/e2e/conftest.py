"""Browser tests: real gunicorn on loopback, driven by Debian's Chromium (CHROMIUM_PATH) through Playwright.

Every page a test opens is watched: a console error, an uncaught page error, or a request to any
host but 127.0.0.1 fails the test.
"""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Route,
    sync_playwright,
)

from tests.support.servers import ROOT, Server, gunicorn
from tests.support.tools import require

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SECRET_KEY = "e2e-secret-key-only-for-these-tests"
FLASK = Path(sys.executable).with_name("flask")
# Seeded users: demo1 and demo2 with this password (see app/cli.py).
DEMO_PASSWORD = "microblog-demo"


def flask_command(env: dict[str, str], *args: str) -> None:
    """Run `flask <args>` against the test database, failing loudly with its output."""
    full_env = {**os.environ, "FLASK_APP": "microblog.py", **env}
    result = subprocess.run([str(FLASK), *args], cwd=ROOT, env=full_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def server_env(tmp_path_factory) -> dict[str, str]:
    """Settings for a production-like app on a migrated, lightly seeded SQLite file."""
    folder = tmp_path_factory.mktemp("e2e")
    env = {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{folder / 'e2e.db'}",
        "LOG_DIR": str(folder / "logs"),
        "DEMO_ERRORS": "1",
        "MICROBLOG_ENV": "development",  # gunicorn.conf.py defaults to production, which refuses DEMO_ERRORS
        "FLASK_DEBUG": "0",
        "MAIL_SERVER": "",
    }
    flask_command(env, "db", "upgrade")
    flask_command(env, "seed", "--users", "2", "--posts", "4", "--follows", "0")
    return env


@pytest.fixture(scope="session")
def live_server(server_env, tmp_path_factory) -> Server:
    with gunicorn(tmp_path_factory.mktemp("e2e-gunicorn"), server_env, workers=2) as server:
        yield server


@pytest.fixture(scope="session")
def playwright() -> Playwright:
    require("chromium")  # before Playwright starts its driver
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright) -> Browser:
    browser = playwright.chromium.launch(executable_path=require("chromium"), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class PageWatch:
    """What went wrong in the browser while a test ran: console errors, page errors, outside requests."""

    def __init__(self):
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.outside_requests: list[str] = []
        self.expected_statuses: set[int] = set()

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not self.is_expected_status_report(message):
            self.console_errors.append(f"{message.text} at {message.location.get('url')}")

    def is_expected_status_report(self, message: ConsoleMessage) -> bool:
        """Chromium reports an error page's own status on the console; a test that asked for it expects it."""
        about_the_page_itself = message.page is not None and message.location.get("url") == message.page.url
        return about_the_page_itself and any(f"status of {code} " in message.text for code in self.expected_statuses)

    def on_request(self, route: Route, request: Request) -> None:
        parts = urlsplit(request.url)
        # localhost: the name the tests' nginx serves the site under (tests/support/nginx.py); loopback too.
        if parts.scheme in {"data", "blob"} or parts.hostname in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            self.outside_requests.append(request.url)
            route.abort()

    def problems(self) -> list[str]:
        return self.console_errors + self.page_errors + [f"request left 127.0.0.1: {u}" for u in self.outside_requests]


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def context(browser, watch) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    context.route("**/*", watch.on_request)
    yield context
    context.close()


@pytest.fixture
def page(context, watch) -> Page:
    """A fresh page; the test fails afterwards if the browser saw any problem on it."""
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(f"page error: {error}"))
    yield page
    assert watch.problems() == []


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot as artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


WIDTHS = {"desktop": 1280, "phone": 390}  # every page is looked at as on a desktop and as on a phone
AXE = Axe()


@pytest.fixture(params=WIDTHS, ids=list(WIDTHS))
def width(request, page) -> int:
    """Each test that asks for it runs at both widths."""
    page.set_viewport_size({"width": WIDTHS[request.param], "height": 900})
    return WIDTHS[request.param]


def assert_no_axe_violations(page: Page) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def keep_screenshot(page: Page, name: str, width: int, kind: str = "a11y") -> None:
    """Save a full-page screenshot as artifacts/screenshots/<kind>-<name>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{kind}-{name}-{width}.png"), full_page=True)
