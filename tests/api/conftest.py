"""API fixtures: tokens for test users, the problem+json contract, and real gunicorn serving the API."""

import base64
import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path

import jsonschema_rs
import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Token, User
from config import database_url
from tests.conftest import PASSWORD, PASSWORD_HASH, config_for_tests
from tests.support.servers import gunicorn

# RFC 9457 as this API promises it: the five standard members always, `errors` with pointers on a 422.
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "pattern": "^https?://[^/]+/api/problems/[a-z0-9-]+$"},
        "title": {"type": "string", "minLength": 1},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "minLength": 1},
        "instance": {"type": "string", "minLength": 1},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["detail"],
                "properties": {"pointer": {"type": "string", "pattern": "^(/[^/]*)*$"}, "detail": {"type": "string"}},
            },
        },
    },
}
problem_validator = jsonschema_rs.validator_for(PROBLEM_SCHEMA)
# What pydantic says in its own words: none of it may reach a client, whose 422 says it as the forms do.
VALIDATOR_WORDS = re.compile(r"Input should|String should|Field required|Extra inputs|Value error|pattern|\bregex\b")


def assert_problem(response, status: int) -> dict:
    """Check that `response` is a problem+json answer with `status` and the request id as `instance`; return it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    errors = [error.message for error in problem_validator.iter_errors(body)]
    assert errors == [], body
    assert body["status"] == status
    assert body["instance"] == response.headers["X-Request-ID"]
    return body


def basic(username: str, password: str = PASSWORD) -> dict:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def get_token(client):
    """Return a function that gets a bearer token for a user through POST /api/tokens."""

    def get(user: User) -> str:
        response = client.post("/api/tokens", headers=basic(user.username))
        assert response.status_code == 201
        return response.get_json()["token"]

    return get


@pytest.fixture
def ann(make_user):
    return make_user("ann")


@pytest.fixture
def ann_auth(ann, get_token) -> dict:
    """Ann's Authorization header."""
    return bearer(get_token(ann))


@contextmanager
def served_database(folder: Path, url: str):
    """Make the tables on `url` with an app in this process; yield that app; drop them afterwards."""
    app = create_app(config_for_tests(folder, SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        db.drop_all()
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def add_user_with_token(app, username: str) -> str:
    """Add a user straight into the database and return a valid token of theirs."""
    with app.app_context():
        user = User(username=username, email=f"{username}@example.com", password_hash=PASSWORD_HASH)
        db.session.add(user)
        db.session.flush()
        token, secret = Token.issue(user, 3600, most=20)
        db.session.add(token)
        db.session.commit()
    return secret


def count_users(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == username))


def gunicorn_env(url: str, log_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "SECRET_KEY": "api-suite-" + uuid.uuid4().hex,
        "DATABASE_URL": url,
        "LOG_DIR": str(log_dir),
        **extra,
    }


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    """Real gunicorn (2 workers) on the test database (TEST_DATABASE_URL, else a SQLite file): (server, app)."""
    folder = tmp_path_factory.mktemp("live-api")
    url = database_url(os.environ.get("TEST_DATABASE_URL"), f"sqlite:///{folder / 'api.db'}")
    env = gunicorn_env(url, folder, ACCOUNT_RATE_LIMIT="1000 per minute")  # the races register from one address
    with served_database(folder, url) as app, gunicorn(folder, env) as server:
        yield server, app
