"""Real nginx (the committed deploy/nginx files) in front of real gunicorn, on loopback ports.

nginx's $request_id reaches the app (log and alert) as X-Request-ID; when gunicorn cannot answer, nginx
serves the pages of `flask errors pages` with that id as the reference: 504 when a request outlives
nginx's read timeout, 502 when gunicorn is down.
"""

import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app.errors.proxy_pages import write_proxy_pages
from tests.support.nginx import check_config, nginx, write_config
from tests.support.servers import ROOT, free_port, stop

pytestmark = pytest.mark.slow
FLASK = Path(sys.executable).with_name("flask")
UNVERIFIED = ssl._create_unverified_context()  # nginx serves a self-signed certificate for 127.0.0.1


@pytest.fixture(scope="module")
def site(serve, mail_inbox):
    _, port = mail_inbox
    return serve(app="tests.support.stuck_app:app", args=("--timeout", "3"), MAIL_SERVER="127.0.0.1",
                 MAIL_PORT=str(port), ADMINS="ops@example.com")  # fmt: skip


@pytest.fixture(scope="module")
def pages(site_database, tmp_path_factory):
    folder = tmp_path_factory.mktemp("error-pages")
    write_proxy_pages(site_database.app, folder)
    return folder


@pytest.fixture(scope="module")
def proxy(site, pages, tmp_path_factory):
    """nginx as committed, but waiting only 2 s for gunicorn: shorter than gunicorn's 3 s, to meet its 504."""
    with nginx(tmp_path_factory.mktemp("nginx"), port_of(site), pages, read_timeout="2s") as running:
        yield running


def port_of(site) -> int:
    return int(site.url.rsplit(":", 1)[1])


def fetch(url: str, headers: dict[str, str] | None = None):
    """Return (status, headers, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=UNVERIFIED), NoRedirect())
    request = urllib.request.Request(url, headers={"Accept": "text/html", **(headers or {})})
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_nginx_accepts_the_committed_site_file(site, pages, tmp_path):
    config, _, _ = write_config(tmp_path, port_of(site), pages)
    checked = check_config(config)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def test_plain_http_is_sent_to_https(proxy):
    status, headers, _ = fetch(proxy.http_url + "/explore")
    assert status == 301 and headers["Location"].startswith("https://")


def test_nginx_request_id_reaches_the_page_the_log_and_the_alert(proxy, site, mail_inbox):
    inbox, _ = mail_inbox
    status, headers, body = fetch(proxy.https_url + "/demo/error")

    request_id = headers["X-Request-ID"]
    assert status == 500 and re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id, used by the app
    assert f'Reference: <code class="request-id">{request_id}</code>' in body
    site.log.wait_for(rf"ERROR \S+ \[{request_id}\] app: Exception on /demo/error")
    [mail] = [m for m in inbox.wait_for(1) if "DemoFailure" in m["Subject"]]
    assert mail["X-Request-ID"] == request_id


def assert_proxy_page(status: int, headers, body: str, code: int, heading: str) -> None:
    request_id = headers["X-Request-ID"]
    assert status == code and re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert f'<h1 class="h3">{heading}</h1>' in body and '<nav class="navbar' in body
    assert f'Reference: <code class="request-id">{request_id}</code>' in body  # filled in by nginx's SSI
    assert "<script" not in body and "<link" not in body and "<style>" in body


def test_a_request_past_every_deadline_gets_the_styled_504_and_the_master_reports_it(proxy, site, mail_inbox):
    inbox, _ = mail_inbox
    status, headers, body = fetch(proxy.https_url + "/stuck/c")

    assert_proxy_page(status, headers, body, 504, "That took too long")
    request_id = headers["X-Request-ID"]
    record = site.log.wait_for(rf"ERROR \S+ \[{request_id}\] app: Worker \d+ killed by SIGKILL")
    assert "while serving GET /stuck/c" in record
    deadline = time.monotonic() + 15
    while not [m for m in inbox.messages() if m["X-Request-ID"] == request_id] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m["Subject"] for m in inbox.messages() if m["X-Request-ID"] == request_id]


def test_with_gunicorn_stopped_nginx_serves_the_styled_502(proxy, site):
    stop(site.server.process)  # the last test of the module: the server stays down

    status, headers, body = fetch(proxy.https_url + "/explore")

    assert_proxy_page(status, headers, body, 502, "The site is not answering")


@pytest.fixture
def public_folder():
    """A folder under /tmp that every account may pass through: pytest's own are under a 0700 folder of root's."""
    folder = Path(tempfile.mkdtemp(prefix="microblog-pages-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_pages_written_under_the_units_umask_are_served_by_workers_of_another_user(public_folder, tmp_path):
    """As deployed: the systemd unit writes the pages with UMask=0027 as its own user; nginx's workers run as
    www-data. Here the workers run as nobody, and nothing listens where gunicorn would (it is down)."""
    if os.geteuid() != 0:
        pytest.skip("nginx switches its workers to another user only when started as root")
    pages = public_folder / "error-pages"
    env = {**os.environ, "SECRET_KEY": "pages-" + "x" * 40, "DATABASE_URL": f"sqlite:///{tmp_path / 'site.db'}"}
    written = subprocess.run(f"umask 027; exec {FLASK} errors pages {pages}", shell=True, cwd=ROOT, env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert written.returncode == 0, written.stdout + written.stderr

    with nginx(tmp_path, free_port(), pages, user="nobody nogroup") as proxy:
        status, headers, body = fetch(proxy.https_url + "/explore")

    assert_proxy_page(status, headers, body, 502, "The site is not answering")
