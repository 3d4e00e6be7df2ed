"""Accounts through real gunicorn, where the encoding of a form body and the access log matter.

On a SQLite file, or on TEST_DATABASE_URL when set (the PostgreSQL pass).
"""

import os
import re
import uuid
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD_HASH, config_for_tests
from tests.support.schema import drop_schema, migrate_fresh
from tests.support.servers import free_port, gunicorn
from tests.support.visitor import Visitor, page_text

pytestmark = pytest.mark.slow

NEW_PASSWORD = "a brand new passphrase"
RESET_LINK = re.compile(r"http://127\.0\.0\.1:\d+(/reset_password\?token=([\w.\-]+))")


@pytest.fixture
def database_url(tmp_path) -> str:
    """Migrate a fresh database with the user demo1; return its URL for the server."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"  # config_for_tests' file
    app = create_app(config_for_tests(tmp_path))
    migrate_fresh(app)
    with app.app_context():
        db.session.add(User(username="demo1", email="demo1@example.com", password_hash=PASSWORD_HASH))
        db.session.commit()
    yield url
    drop_schema(app)


@pytest.fixture
def server_env(tmp_path, database_url) -> dict[str, str]:
    return {
        "SECRET_KEY": "accounts-" + uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "LOG_DIR": str(tmp_path / "logs"),
        "FLASK_DEBUG": "0",
        "RATELIMIT_ENABLED": "0",
    }


@pytest.mark.parametrize(
    "lookalike", ["demo1\n", "demo1\u3164", "d\u0435mo1", "Demo1", "\uff44\uff45\uff4d\uff4f\uff11"]
)
def test_a_lookalike_sent_percent_encoded_makes_no_account(tmp_path, server_env, lookalike):
    with gunicorn(tmp_path, server_env, workers=1) as server:
        visitor = Visitor(server.url)
        fields = {
            "username": lookalike,
            "email": "x@example.com",
            "password": "s3cret-pass",
            "password2": "s3cret-pass",
        }
        answer = visitor.submit("/register", fields)  # urlencoded: demo1%0A, demo1%E3%85%A4, d%D0%B5mo1, ...
        explore = visitor.get("/explore")

    assert answer.status == 200
    assert "This username is taken" in answer.body or "Use the letters A–Z and a–z" in page_text(answer.body)
    assert explore.status == 200


def logged_text(server, log_dir: Path) -> str:
    files = "".join(path.read_text(errors="replace") for path in log_dir.glob("*.log*") if path.is_file())
    return server.output() + files


def test_a_reset_by_mail_leaves_the_token_in_no_log_line(tmp_path, server_env, smtp):
    inbox, port = smtp
    env = {**server_env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "MAIL_DEFAULT_SENDER": "mb@example.com"}
    site_port = free_port()
    env["SITE_URL"] = f"http://127.0.0.1:{site_port}"  # required with mail in production (gunicorn's default)
    with gunicorn(tmp_path, env, workers=2, port=site_port) as server:
        visitor = Visitor(server.url)
        asked = visitor.submit("/reset_password_request", {"email": "DEMO1@example.com"})
        path, token = RESET_LINK.search(inbox.wait_for(1)[0].get_content()).groups()
        landing = visitor.get(path)
        form = visitor.submit("/reset_password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
        replay = Visitor(server.url).get(path)
        fresh = Visitor(server.url)
        fresh.log_in("demo1", NEW_PASSWORD)
        logs = logged_text(server, Path(env["LOG_DIR"]))

    assert asked.status == 302 and landing.status == 302 and landing.header("Location").endswith("/reset_password")
    assert form.status == 302 and replay.header("Location").endswith("/reset_password_request")
    assert "GET /reset_password?token=********" in logs  # the request was logged, its token masked
    assert token not in logs and token.split(".")[0] not in logs
