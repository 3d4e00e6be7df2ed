"""What a client sends, byte for byte to real gunicorn, on SQLite or PostgreSQL.

Control characters get a 400 before any query (psycopg refuses NUL, so on PostgreSQL they were a 500);
the log file stays one record per line; the alert mail names the configured site, never the client's
Host; the client's X-Request-ID, X-Forwarded-Ssl and SCRIPT_NAME are believed from no one by default.
"""

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from tests.faults.conftest import LOG_LINE
from tests.support.raw_http import post_form_bytes, send_raw
from tests.support.visitor import Visitor
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

SITE_URL = "https://microblog.example.org"


@pytest.fixture(scope="module")
def site(serve, mail_inbox):
    _, port = mail_inbox
    mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "ADMINS": "ops@example.com", "ALERT_WINDOW": "1"}
    # The tests speak to gunicorn by its address; evil.example stands for a forged name that a host check lets
    # through (a proxy passing any Host on): the alert mail names SITE_URL all the same.
    hosts = {"TRUSTED_HOSTS": "127.0.0.1,evil.example"}
    return serve(SITE_URL=SITE_URL, PROXY_FIX_X_FOR="0", **hosts, **mail)  # no proxy is trusted


def get_raw(site, target: bytes, *headers: bytes):
    head = b"\r\n".join([b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Accept: text/html", *headers])
    return send_raw(site.url, head)


@pytest.mark.parametrize("target", [b"/user/a%00b", b"/user/a%1b[2Kb", b"/explore?page=1%00"], ids=["nul", "esc", "q"])
def test_a_control_character_in_the_path_is_a_400_never_a_500(site, target):
    response = get_raw(site, target)

    assert response.status == 400
    assert "control character" in response.text


def user_count(database) -> int:
    with database.app.app_context():
        return db.session.scalar(sa.select(sa.func.count(User.id)))


def test_registering_a_name_with_a_nul_is_a_400_and_stores_nobody(site, site_database):
    visitor = Visitor(site.url)
    token = visitor.csrf_token("/register").encode()
    body = b"csrf_token=" + token + b"&username=a%00b&email=a%40example.com&password=pw123456&password2=pw123456"

    before = user_count(site_database)

    response = post_form_bytes(site.url, "/register", body, visitor.cookie_header())

    assert response.status == 400
    assert user_count(site_database) == before


@pytest.mark.parametrize("page", ["/login", "/register"])
def test_a_field_sent_as_a_file_is_a_400_never_a_500(site, page):
    visitor = Visitor(site.url)
    token = visitor.csrf_token(page).encode()
    body = (b'--XYZ\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n%s\r\n'
            b'--XYZ\r\nContent-Disposition: form-data; name="username"; filename="name.txt"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n\xff\xfeann\r\n--XYZ--\r\n") % token  # fmt: skip

    response = post_form_bytes(site.url, page, body, visitor.cookie_header(), "multipart/form-data; boundary=XYZ")

    assert response.status == 400
    assert "takes text, not a file" in response.text


def test_login_with_a_line_break_in_next_is_a_400_never_a_500(site, site_database):
    name = site_database.add_user()
    visitor = Visitor(site.url)
    token = visitor.csrf_token("/login")
    body = f"csrf_token={token}&username={name}&password=correct+horse+battery".encode()

    response = post_form_bytes(site.url, "/login?next=/%0D%0AX-Injected:%201", body, visitor.cookie_header())

    assert response.status == 400
    assert "x-injected" not in response.headers


def test_the_log_file_stays_one_record_per_line_whatever_the_request_holds(site):
    forged_record = b"2030-01-01T00:00:00.000Z ERROR [-] app: forged"
    get_raw(site, b"/user/a%1b[2Kb", b"Referer: http://127.0.0.1/explore\xc2\x85" + forged_record)
    get_raw(site, b"/no-such-page", b"Referer: http://127.0.0.1/explore\xe2\x80\xa8" + forged_record)
    get_raw(site, b"/no-such-page", b"User-Agent: agent\xc2\x85" + forged_record)
    site.log.wait_for(r"Broken link to '/no-such-page'")

    for text in (site.log.text(), site.server.output()):
        assert "\x1b" not in text and "\x85" not in text and "\u2028" not in text
        lines = text.splitlines()  # as Python and a pager see it: U+0085 and U+2028 end a line too
        assert not any(line.startswith("2030-01-01") for line in lines)
        assert all(LOG_LINE.match(line) or line.startswith((" ", "Traceback")) for line in lines if line), lines


def test_the_alert_mail_names_the_configured_site_not_the_clients_host(site, mail_inbox):
    inbox, _ = mail_inbox

    response = send_raw(site.url, b"GET /demo/error?page=2 HTTP/1.1\r\nHost: evil.example\r\nAccept: text/html")

    assert response.status == 500
    demo_mails = wait_for(bool, lambda: [m for m in inbox.messages() if "DemoFailure" in m["Subject"]], what="its mail")
    [mail] = demo_mails
    [url] = [line.strip() for line in mail.get_content().splitlines() if line.strip().startswith("URL:")]
    assert url.split(None, 1)[1] == f"{SITE_URL}/demo/error?page=2"


def test_a_clients_request_id_is_not_believed_without_a_trusted_proxy(site):
    response = Visitor(site.url).get("/explore", headers={"X-Request-ID": "chosen-by-the-client"})

    assert response.status == 200
    assert response.header("X-Request-ID") != "chosen-by-the-client"
    assert re.fullmatch(r"[0-9a-f]{32}", response.header("X-Request-ID"))


def test_a_trusted_proxys_request_id_is_believed(serve):
    behind_a_proxy = serve(workers=1, PROXY_FIX_X_FOR="1")

    response = Visitor(behind_a_proxy.url).get("/explore", headers={"X-Request-ID": "set-by-nginx-42"})

    assert response.header("X-Request-ID") == "set-by-nginx-42"


def test_gunicorn_takes_no_scheme_from_a_local_clients_x_forwarded_ssl(serve):
    """Seen in a problem's type, which names the request's scheme and host only where no SITE_URL is set."""
    without_site_url = serve(workers=1)
    response = get_raw(without_site_url, b"/api/users/nobody-here", b"X-Forwarded-Ssl: on", b"Accept: application/json")

    assert response.status == 404
    assert '"type": "http://127.0.0.1' in response.text


def test_gunicorn_takes_no_script_name_from_a_local_client(site):
    response = get_raw(site, b"/evil/explore", b"SCRIPT_NAME: /evil")

    assert 'href="/evil/' not in response.text
