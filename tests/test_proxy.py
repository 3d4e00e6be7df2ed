"""Behind a proxy: X-Forwarded-* headers are believed only when a PROXY_FIX_* setting trusts the proxy."""

import os
import re
import urllib.request
import uuid

import pytest
from flask import request, url_for

from app import create_app
from tests.conftest import config_for_tests
from tests.support.servers import gunicorn
from tests.support.waiting import wait_for

CLIENT = {"REMOTE_ADDR": "10.0.0.5"}  # the proxy, as the app sees the connection


@pytest.fixture
def whoami(app):
    """A client for an app with a test-only page that shows who the app thinks is asking."""

    @app.route("/whoami")
    def whoami_page():
        home = url_for("main.explore", _external=True)
        return {"address": request.remote_addr, "scheme": request.scheme, "home": home}

    return app.test_client()


def ask(client, **forwarded) -> dict:
    headers = {f"X-Forwarded-{name.title()}": value for name, value in forwarded.items()}
    return client.get("/whoami", headers=headers, environ_base=CLIENT).json


def login_forwarded_for(client, address: str) -> int:
    """Post the login form through the proxy on behalf of `address`; return the status."""
    return client.post("/login", data={}, headers={"X-Forwarded-For": address}, environ_base=CLIENT).status_code


def test_forwarded_headers_are_ignored_when_no_proxy_is_trusted(whoami):
    answer = ask(whoami, For="203.0.113.9", Proto="https", Host="evil.example")
    assert answer == {"address": "10.0.0.5", "scheme": "http", "home": "http://localhost/explore"}


def test_a_forged_address_does_not_escape_the_login_limit(tmp_path):
    app = create_app(config_for_tests(tmp_path, RATELIMIT_ENABLED=True, ACCOUNT_RATE_LIMIT="2 per minute"))
    client = app.test_client()
    assert [login_forwarded_for(client, f"198.51.100.{n}") for n in range(3)] == [200, 200, 429]


class TestBehindOneTrustedProxy:
    @pytest.fixture
    def config_overrides(self):
        proxy = {"PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1, "PROXY_FIX_X_HOST": 1}
        proxy["TRUSTED_HOSTS"] = ["microblog.example"]  # the name the proxy forwards, besides SITE_URL's
        return {**proxy, "RATELIMIT_ENABLED": True, "ACCOUNT_RATE_LIMIT": "2 per minute"}

    def test_the_app_sees_the_client_address_scheme_and_host(self, whoami):
        answer = ask(whoami, For="203.0.113.9", Proto="https", Host="microblog.example")
        assert answer == {"address": "203.0.113.9", "scheme": "https", "home": "https://microblog.example/explore"}

    def test_only_the_address_the_proxy_added_is_believed(self, whoami):
        # The client sent "X-Forwarded-For: 1.2.3.4"; our proxy appended the address it saw.
        assert ask(whoami, For="1.2.3.4, 203.0.113.9")["address"] == "203.0.113.9"

    def test_login_limits_count_per_real_client(self, client):
        assert [login_forwarded_for(client, f"198.51.100.{n}") for n in range(4)] == [200] * 4
        assert [login_forwarded_for(client, "198.51.100.9") for _ in range(3)] == [200, 200, 429]


def access_line(server, path: str) -> str:
    """Return gunicorn's access log line for `path` once it is written."""
    line = re.compile(rf"^.*gunicorn\.access: GET {re.escape(path)} .*$", re.MULTILINE)
    return line.search(wait_for(line, server.output)).group(0)


@pytest.mark.slow
@pytest.mark.parametrize(("proxy_fix_x_for", "logged_address"), [("0", "127.0.0.1"), ("1", "203.0.113.9")])
def test_gunicorn_access_log_shows_the_client_behind_a_trusted_proxy(tmp_path, proxy_fix_x_for, logged_address):
    env = {"SECRET_KEY": uuid.uuid4().hex, "PROXY_FIX_X_FOR": proxy_fix_x_for, "FLASK_DEBUG": "0"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'site.db'}"
    with gunicorn(tmp_path, {**os.environ, **env}, workers=1) as server:
        forged = urllib.request.Request(server.url + "/static/site.css", headers={"X-Forwarded-For": "203.0.113.9"})
        urllib.request.urlopen(forged, timeout=10).close()
        line = access_line(server, "/static/site.css")
    assert f" client={logged_address} " in line
