"""Requests no browser would send, byte for byte to real gunicorn: each gets a 4xx (or its form back), never a 500.

The bytes go out through raw sockets (tests/support/raw_http.py), so nothing on the way re-encodes them.
Every POST carries a valid session and CSRF token, so that the bad encoding is the only thing wrong with it.
"""

import re
from urllib.parse import urlencode

import pytest

from tests.faults.conftest import logged_in_visitor
from tests.support.raw_http import hang_up_mid_body, post_form_bytes, request_head, send_raw
from tests.support.visitor import Visitor

pytestmark = pytest.mark.slow

SITE_PAGE = 'class="navbar-brand"'  # the app's own page, in the site's look (not the server's bare one)


@pytest.fixture(scope="module")
def author(site, site_database):
    """A logged-in person: (name, visitor)."""
    return logged_in_visitor(site, site_database)


def multipart(fields: dict[str, bytes], boundary: bytes = b"XYZ") -> bytes:
    parts = [b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, name.encode(), value)
             for name, value in fields.items()]  # fmt: skip
    return b"".join(parts) + b"--%s--\r\n" % boundary


@pytest.fixture
def post_as_author(site, author):
    """Return a function that POSTs raw form bytes to a page as the author, with the page's CSRF token.

    `fields` is an urlencoded string, or a dict of raw values to send as multipart/form-data.
    """
    _, visitor = author

    def post(path: str, fields: bytes | dict[str, bytes]):
        token = visitor.csrf_token(path).encode()
        if isinstance(fields, dict):
            body, content_type = multipart({"csrf_token": token, **fields}), "multipart/form-data; boundary=XYZ"
        else:
            body, content_type = b"csrf_token=" + token + b"&" + fields, ""
        return post_form_bytes(site.url, path, body, visitor.cookie_header(), content_type)

    return post


@pytest.fixture
def anonymous_post(site):
    """Return a function that POSTs raw bytes as a fresh visitor (login and register forms)."""

    def post(path: str, fields: bytes):
        visitor = Visitor(site.url)
        token = visitor.csrf_token(path).encode()
        return post_form_bytes(site.url, path, b"csrf_token=" + token + b"&" + fields, visitor.cookie_header())

    return post


@pytest.fixture(autouse=True)
def no_error_logged(site):
    """Whatever a test sends, the app must log no ERROR for it: bad input is the client's problem."""
    yield
    assert site.log.errors() == []
    assert " 500 " not in site.server.output() and "Traceback" not in site.server.output()


def assert_client_error(response, status: int, site_page: bool = True) -> None:
    assert response.status == status, response.text[:2000]
    if site_page:
        assert SITE_PAGE in response.text and "Reference:" not in response.text  # the client's to put right


def test_a_client_that_hangs_up_mid_body_leaves_every_worker_serving(site, author):
    pids = site.worker_pids()
    _, visitor = author
    for _ in range(4):  # enough to reach both workers
        hang_up_mid_body(site.url, "/login", announced=100_000, sent=b"username=ann&password=" + b"x" * 1000)
        hang_up_mid_body(site.url, "/", 100_000, b"post=" + b"y" * 5000, cookie=visitor.cookie_header())

    for _ in range(4):
        assert visitor.get("/explore").status == 200
    assert site.worker_pids() == pids


def test_a_body_over_the_limit_is_a_413_page(site, author):
    _, visitor = author
    response = post_form_bytes(site.url, "/", b"post=" + b"a" * 2_000_000, visitor.cookie_header())
    assert_client_error(response, 413)


def post_chunked(site, visitor, body: bytes):
    """POST `body` with Transfer-Encoding: chunked (no Content-Length), in chunks of 100 kB."""
    pieces = [body[start : start + 100_000] for start in range(0, len(body), 100_000)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"}
    return send_raw(site.url, request_head("POST", b"/", headers, visitor.cookie_header()), chunks)


@pytest.fixture
def oversized_chunked_post(site, author, site_database):
    """POST 1.5 MB chunked as the author (a valid token first); return (response, whether anything was stored)."""
    name, visitor = author
    before = site_database.posts_of(name)
    body = b"csrf_token=" + visitor.csrf_token("/").encode() + b"&post=" + b"c" * 1_500_000
    response = post_chunked(site, visitor, body)
    return response, site_database.posts_of(name) != before


def test_a_chunked_body_over_the_limit_is_never_a_500_and_stores_nothing(oversized_chunked_post):
    response, stored = oversized_chunked_post
    assert response.status < 500 and not stored


def test_a_chunked_body_over_the_limit_is_a_413(oversized_chunked_post):
    response, _ = oversized_chunked_post
    assert response.status == 413


MULTIPART_POST = b'--XYZ\r\nContent-Disposition: form-data; name="post"\r\n\r\nhello\r\n--XYZ--\r\n'


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data; boundary=ABC", MULTIPART_POST),  # the body uses another boundary
        ("multipart/form-data", MULTIPART_POST),  # no boundary at all
        ("multipart/form-data; boundary=XYZ", MULTIPART_POST[:-9]),  # cut off before the closing boundary
        ("application/json", b'{"post": "hello"}'),  # not a form
        ("application/x-www-form-urlencoded", b"\x00\x01\x02post"),  # binary noise
    ],
    ids=["wrong-boundary", "no-boundary", "truncated", "json", "noise"],
)
def test_a_malformed_form_body_is_a_400_and_stores_nothing(site, author, site_database, content_type, body):
    name, visitor = author
    response = post_form_bytes(site.url, "/", body, visitor.cookie_header(), content_type)
    assert_client_error(response, 400)
    assert "hello" not in site_database.posts_of(name)


def test_bad_percent_escapes_are_a_400_and_store_nothing(post_as_author, author, site_database):
    # A browser encodes a typed "%" as %25, so a bare "%" in a form body is a malformed encoding.
    name, _ = author
    before = site_database.posts_of(name)
    assert_client_error(post_as_author("/", b"post=100%zz and 50%"), 400)
    assert site_database.posts_of(name) == before


def test_encoded_percent_signs_are_stored_as_typed(post_as_author, author, site_database):
    name, _ = author
    assert post_as_author("/", b"post=100%25zz and 50%25").status == 302
    assert site_database.posts_of(name)[-1] == "100%zz and 50%"


@pytest.mark.parametrize(
    "target",
    [b"/user/%FF%FE", b"/user/%C3%28", b"/no/such/%ED%A0%80"],
    ids=["ff-fe", "bad-continuation", "surrogate"],
)
def test_invalid_utf8_in_a_path_is_a_404_page(site, target):
    assert_client_error(send_raw(site.url, request_head("GET", target)), 404)


@pytest.mark.parametrize("target", [b"/user/\xff\xfe", b"/explore?page=\xff"], ids=["path", "query"])
def test_raw_non_ascii_bytes_in_the_request_line_are_refused_by_gunicorn(site, target):
    assert_client_error(send_raw(site.url, request_head("GET", target)), 400, site_page=False)


def test_raw_invalid_utf8_bytes_in_a_form_body_are_a_400(post_as_author, author, site_database):
    name, _ = author
    assert_client_error(post_as_author("/", b"post=raw\xff\xfebytes"), 400)
    assert not any("raw" in body for body in site_database.posts_of(name))


# Werkzeug alone would keep an undecodable %XX escape as literal text and turn an undecodable byte into
# U+FFFD, storing something the user did not write; app/errors/input_checks.py refuses such requests instead.
@pytest.mark.parametrize(
    "fields",
    [b"post=caf%C3%28", b"post=%FF%FEhello", {"post": b"hi\xff"}],
    ids=["urlencoded-bad-continuation", "urlencoded-ff-fe", "multipart-raw-byte"],
)
def test_invalid_utf8_escapes_in_a_form_field_are_refused(post_as_author, author, site_database, fields):
    name, _ = author
    before = site_database.posts_of(name)
    response = post_as_author("/", fields)
    assert response.status < 500 and site_database.posts_of(name)[: len(before)] == before
    assert 400 <= response.status < 500


def test_invalid_utf8_escapes_in_a_query_string_are_refused(site):
    response = send_raw(site.url, request_head("GET", b"/explore?page=%FF"))
    assert response.status < 500
    assert 400 <= response.status < 500


TOO_LONG = re.compile(r"Use (\d+ characters or fewer|between 1 and \d+ characters)")  # app/forms.py


@pytest.mark.parametrize(
    "path, fields",
    [
        ("/", {"post": "p" * 281}),
        ("/", {"post": "p" * 600_000}),
        ("/edit_profile", {"username": "u" * 65, "about_me": "a" * 141}),
    ],
    ids=["post", "post-600k", "profile"],
)
def test_overlong_fields_bring_the_form_back_with_errors_and_store_nothing(
    post_as_author, author, site_database, path, fields
):
    name, _ = author
    before = site_database.posts_of(name), site_database.user(name).about_me
    response = post_as_author(path, urlencode(fields).encode())
    assert response.status == 200 and TOO_LONG.search(response.text)
    assert (site_database.posts_of(name), site_database.user(name).about_me) == before
    assert site_database.user(name) is not None


@pytest.mark.parametrize(
    "path, fields",
    [
        ("/login", {"username": "u" * 65, "password": "p" * 129}),
        ("/register", {"username": "n" * 65, "email": "e" * 121 + "@example.com", "password": "p" * 129}),
    ],
    ids=["login", "register"],
)
def test_overlong_account_fields_bring_the_form_back_with_errors(anonymous_post, site_database, path, fields):
    response = anonymous_post(path, urlencode({**fields, "password2": fields["password"]}).encode())
    assert response.status == 200 and TOO_LONG.search(response.text)
    assert site_database.user(fields["username"]) is None


def test_a_multipart_field_over_the_form_memory_limit_is_a_413(post_as_author):
    assert_client_error(post_as_author("/", {"post": b"p" * 600_000}), 413)
