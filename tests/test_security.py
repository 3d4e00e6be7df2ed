"""Hardening: security headers and a CSP the pages satisfy, the SECRET_KEY check, cookie flags."""

from html.parser import HTMLParser

import pytest

from app import create_app
from app.security import InsecureConfigError
from tests.conftest import config_for_tests

REAL_KEY = "4f1c0a3e9b7d2c6a8e5f1b3d7c9a2e4f6b8d0c2a4e6f8b1d3c5e7a9b2d4f6a8c"


class InlineCodeFinder(HTMLParser):
    """Collect what a strict CSP (script-src and style-src 'self') would block, and every foreign address."""

    def __init__(self):
        super().__init__()
        self.violations: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.violations.append(f"<{tag} {name}={value!r}>")
            if name in {"href", "src", "action"} and value and not is_same_origin(value):
                self.violations.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.violations.append("<style> element")
        self.in_script = tag == "script" and "src" not in attributes

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.violations.append(f"inline script {data.strip()[:40]!r}")


def is_same_origin(address: str) -> bool:
    return (address.startswith("/") and not address.startswith("//")) or address.startswith(("#", "data:image/"))


def csp_violations(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.violations


@pytest.fixture
def broken_app(tmp_path):
    """An app with a view that raises."""
    app = create_app(config_for_tests(tmp_path))

    @app.route("/broken")
    def broken():
        raise RuntimeError("a bug")

    return app


def test_every_response_carries_the_security_headers(client):
    for response in (client.get("/explore"), client.get("/no-such-page"), client.get("/static/site.css")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        response.close()


def test_the_pages_need_no_inline_script_or_style(client, auth, make_user, make_post):
    ann, bob = make_user("ann"), make_user("bob")
    make_post(bob, "a post with <script>alert(1)</script> in it")
    pages = ["/explore", "/login", "/register", "/user/bob", "/no-such-page"]
    anonymous = {page: client.get(page) for page in pages}
    auth.login(ann)
    logged_in = {page: client.get(page) for page in ["/", "/user/ann", "/user/bob", "/edit_profile"]}
    with_errors = {"/register (invalid)": client.post("/register", data={"username": "", "email": "x"})}

    for page, response in {**anonymous, **logged_in, **with_errors}.items():
        assert response.mimetype == "text/html", page
        assert csp_violations(response.get_data(as_text=True)) == [], page


def test_the_500_page_needs_no_inline_script_or_style(broken_app):
    response = broken_app.test_client().get("/broken")
    assert response.status_code == 500
    assert "Content-Security-Policy" in response.headers
    assert csp_violations(response.get_data(as_text=True)) == []


def test_the_checker_sees_inline_code():
    html = '<p style="color:red" onclick="x()">a</p><script>alert(1)</script><img src="https://evil.example/a.png">'
    assert len(csp_violations(html)) == 4


def test_gravatar_images_are_allowed_only_when_gravatar_is_on(tmp_path):
    plain = create_app(config_for_tests(tmp_path)).test_client().get("/healthz")
    gravatar = create_app(config_for_tests(tmp_path, AVATAR_GRAVATAR=True)).test_client().get("/healthz")
    assert "gravatar" not in plain.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://www.gravatar.com" in gravatar.headers["Content-Security-Policy"]


@pytest.mark.parametrize("key", [None, "", "   ", "change-me", "replace-me-with-make-run"])
def test_production_refuses_to_start_without_a_real_secret_key(tmp_path, key):
    config = config_for_tests(tmp_path, TESTING=False, DEBUG=False, SECRET_KEY=key)
    with pytest.raises(InsecureConfigError) as refused:
        create_app(config)
    message = str(refused.value)
    assert "SECRET_KEY" in message
    assert "python -c 'import secrets; print(secrets.token_hex(32))'" in message


def test_production_starts_with_a_real_secret_key(tmp_path):
    app = create_app(config_for_tests(tmp_path, TESTING=False, DEBUG=False, SECRET_KEY=REAL_KEY))
    assert app.test_client().get("/healthz").status_code == 200


def test_debug_mode_starts_without_a_secret_key(tmp_path):
    app = create_app(config_for_tests(tmp_path, TESTING=False, DEBUG=True, SECRET_KEY=""))
    assert app.test_client().get("/healthz").status_code == 200


def test_session_and_remember_cookies_are_httponly_and_lax(client, auth, make_user):
    auth.login(make_user("ann"), remember_me="y")
    for name in ("session", "remember_token"):
        cookie = client.get_cookie(name)
        assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure, name


class TestOverHttps:
    @pytest.fixture
    def config_overrides(self):
        return {"SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True}

    def test_cookies_are_secure_and_hsts_is_sent(self, auth, make_user):
        response = auth.login(make_user("ann"), remember_me="y")
        set_cookies = response.headers.getlist("Set-Cookie")
        # login_device: this browser has logged in to ann before (for the login limits); Secure like the others.
        assert sorted(cookie.split("=")[0] for cookie in set_cookies) == ["login_device", "remember_token", "session"]
        for cookie in set_cookies:
            assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie, cookie
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_plain_http_gets_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/explore").headers


def test_the_kept_session_serializer_follows_a_key_rotation(client, app, make_user, auth):
    auth.login(make_user())
    assert client.get("/edit_profile").status_code == 200
    old_key, new_key = app.secret_key, "a new key of at least thirty-two characters"
    app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = new_key, [old_key]
    assert client.get("/edit_profile").status_code == 200  # the cookie signed with the old key still opens
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get("/edit_profile").status_code == 302  # the old key retired: that cookie is no session
