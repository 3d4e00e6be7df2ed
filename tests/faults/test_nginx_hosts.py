"""A forged Host against a password reset, through real nginx (the committed deploy/nginx files) in front of
real gunicorn in production mode, mailing through a real SMTP server.

nginx answers only the site's name: any other Host has its connection closed without a word (444), and the
X-Forwarded-Host it passes on is its own. The reset link the owner receives is on SITE_URL, and works once.
"""

import re
import socket
import ssl
import urllib.parse

import pytest

from tests.support.nginx import nginx
from tests.support.servers import free_port
from tests.support.visitor import Visitor

pytestmark = pytest.mark.slow
UNVERIFIED = ssl._create_unverified_context()  # nginx serves a self-signed certificate for 127.0.0.1
NEW_PASSWORD = "a brand new passphrase"
# What a browser sends from the site's own pages on https's port: the app's CSRF check wants a same-origin
# Referer over https, and the Host nginx passes on ($host) names no port, so the test's port is left out.
SAME_SITE = {"Referer": "https://localhost/"}


@pytest.fixture(scope="module")
def proxy(serve, mail_inbox, tmp_path_factory):
    """nginx as committed in front of gunicorn, set up as docs/deployment.md says: SITE_URL, the proxy counted."""
    _, mail_port = mail_inbox
    upstream = free_port()
    with nginx(tmp_path_factory.mktemp("nginx"), upstream, tmp_path_factory.mktemp("error-pages")) as running:
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(mail_port), "MAIL_DEFAULT_SENDER": "mb@example.com"}
        behind_nginx = {"PROXY_FIX_X_FOR": "1", "PROXY_FIX_X_PROTO": "1", "PROXY_FIX_X_HOST": "1"}
        serve(workers=1, port=upstream, MICROBLOG_ENV="production", DEMO_ERRORS="0", SITE_URL=running.https_url,
              **mail, **behind_nginx)  # fmt: skip
        yield running


def browser(proxy) -> Visitor:
    return Visitor(proxy.https_url, tls=UNVERIFIED, headers=SAME_SITE)


def port_of(url: str) -> int:
    return urllib.parse.urlsplit(url).port


def raw_answer(port: int, head: bytes, body: bytes, server_name: str | None = None) -> bytes:
    """Send one request as bytes (over TLS naming `server_name` when given); return all nginx sent back."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    if server_name:
        connection = UNVERIFIED.wrap_socket(connection, server_hostname=server_name)  # closes it if refused
    with connection:
        connection.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def forged_reset_request(visitor: Visitor, email: str) -> tuple[bytes, bytes]:
    """A reset form, with its token and cookie as the site gave them, addressed to evil.example (the Referer
    too, so that the CSRF check's same-origin test would pass)."""
    fields = {"email": email, "csrf_token": visitor.csrf_token("/reset_password_request")}
    cookie = visitor.cookie_header().encode()
    head = b"POST /reset_password_request HTTP/1.1\r\nHost: evil.example\r\nCookie: %s\r\n" % cookie
    head += b"Referer: https://evil.example/\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    return head, urllib.parse.urlencode(fields).encode()


def test_a_forged_host_gets_no_answer_and_a_forged_forwarded_host_gets_a_link_on_site_url(
    proxy, site_database, mail_inbox
):
    inbox, _ = mail_inbox
    name = site_database.add_user()
    email = f"{name}@example.com"
    attacker = browser(proxy)
    head, body = forged_reset_request(attacker, email)

    over_https = raw_answer(port_of(proxy.https_url), head, body, server_name="localhost")
    over_http = raw_answer(port_of(proxy.http_url), head, body)
    with pytest.raises(ssl.SSLError):  # a TLS connection for another name (or none): the handshake is refused
        raw_answer(port_of(proxy.https_url), head, body, server_name="evil.example")
    forwarded = attacker.submit(
        "/reset_password_request", {"email": email}, headers={"X-Forwarded-Host": "evil.example"}
    )

    assert over_https == b"" and over_http == b""  # nginx's 444: the connection closed, not a byte sent
    assert forwarded.status == 302  # nginx sent its own X-Forwarded-Host: a forged one would be the app's 400
    [mail] = inbox.wait_for(1)
    [link] = re.findall(r"https?://\S+/reset_password\?token=\S+", mail.get_content())
    assert link.startswith(proxy.https_url + "/reset_password?token=")
    assert inbox.exactly(1)  # one worker sends in order: the forged Host's request, sent first, mailed nothing


def test_the_mailed_link_works_once(proxy, site_database, mail_inbox):
    inbox, _ = mail_inbox
    before = len(inbox.messages())
    name = site_database.add_user()
    owner = browser(proxy)
    owner.submit("/reset_password_request", {"email": f"{name}@example.com"})
    [link] = re.findall(r"\S+/reset_password\?token=\S+", inbox.wait_for(before + 1)[-1].get_content())
    assert link.startswith(proxy.https_url)
    path = link.removeprefix(proxy.https_url)

    landing = owner.get(path)
    page = owner.get("/reset_password")
    changed = owner.submit("/reset_password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    again = browser(proxy).get(path)

    assert landing.status == 302 and landing.header("Location").endswith("/reset_password")
    assert page.status == 200 and "Set the new password" in page.body
    assert changed.status == 302
    assert again.status == 302 and again.header("Location").endswith("/reset_password_request")
    browser(proxy).log_in(name, NEW_PASSWORD)


def test_health_checks_through_nginx_reach_the_app_under_the_sites_name(proxy):
    """Their locations inherit the proxy headers: without them nginx would send its upstream's name as Host."""
    for path in ("/healthz", "/readyz"):
        answer = browser(proxy).get(path)
        assert answer.status == 200, (path, answer.status)
