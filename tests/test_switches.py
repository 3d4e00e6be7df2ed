"""Switches and settings that must not weaken a deployment.

DEMO_ERRORS only in an environment named on the allow-list; a SECRET_KEY long enough to sign with;
no cache keeps a logged-in page or a cookie; files the site creates are not readable by other users.
"""

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app import create_app
from app.security import InsecureConfigError
from tests.conftest import config_for_tests
from tests.support.schema import migrate_fresh
from tests.support.servers import ROOT, gunicorn
from tests.support.visitor import Visitor

FLASK = Path(sys.executable).with_name("flask")


@pytest.mark.parametrize("environment", ["production", "prod", "Production", "", "staging", "development "])
def test_demo_errors_are_refused_outside_development_and_test(tmp_path, environment):
    with pytest.raises(RuntimeError, match="DEMO_ERRORS .* only when MICROBLOG_ENV is development or test"):
        create_app(config_for_tests(tmp_path, DEMO_ERRORS=True, ENV_NAME=environment))


@pytest.mark.parametrize("environment", ["development", "test"])
def test_demo_errors_serve_in_development_and_test(tmp_path, environment):
    app = create_app(config_for_tests(tmp_path, DEMO_ERRORS=True, ENV_NAME=environment))
    assert app.test_client().get("/demo/error").status_code == 500


@pytest.mark.parametrize("key", ["x", "a-31-character-key-xxxxxxxxxxxx"])
def test_a_short_secret_key_is_refused_outside_debug_and_tests(tmp_path, key):
    assert len(key) < 32
    with pytest.raises(InsecureConfigError, match="at least 32 characters"):
        create_app(config_for_tests(tmp_path, TESTING=False, DEBUG=False, SECRET_KEY=key))


def test_a_32_character_secret_key_starts(tmp_path):
    app = create_app(config_for_tests(tmp_path, TESTING=False, DEBUG=False, SECRET_KEY=uuid.uuid4().hex))
    assert app.test_client().get("/healthz").status_code == 200


def test_a_logged_in_page_is_never_stored_by_a_cache(client, auth, make_user):
    auth.login(make_user())

    for path in ("/", "/explore", "/edit_profile"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_a_response_that_sets_a_cookie_is_never_stored_by_a_cache(client, auth, make_user):
    response = auth.login(make_user(), remember_me="y")

    assert response.headers.getlist("Set-Cookie")
    assert response.headers["Cache-Control"] == "no-store"


def test_an_anonymous_page_without_a_cookie_keeps_its_caching(client):
    response = client.get("/explore")

    assert "Set-Cookie" not in response.headers
    assert response.headers.get("Cache-Control") != "no-store"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_files_created_under_gunicorn_are_not_readable_by_other_users(tmp_path, smtp):
    inbox, port = smtp
    database = tmp_path / "site.db"
    migrate_fresh(create_app(config_for_tests(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}")))
    env = {"SECRET_KEY": uuid.uuid4().hex, "DATABASE_URL": f"sqlite:///{database}", "FLASK_DEBUG": "0",
           "LOG_DIR": str(tmp_path / "logs"), "ALERT_STATE_PATH": str(tmp_path / "alert-state.sqlite3"),
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(port), "ADMINS": "ops@example.com",
           "MICROBLOG_ENV": "development", "DEMO_ERRORS": "1", "ACCESS_LOG": str(tmp_path / "access.log")}  # fmt: skip
    old_umask = os.umask(0o022)  # what a login shell or a container usually gives
    try:
        with gunicorn(tmp_path, env, workers=1) as server:
            Visitor(server.url).get("/demo/error")  # an alert: the alert state is written
            inbox.wait_for(1)
    finally:
        os.umask(old_umask)

    created = [tmp_path / "logs" / "microblog.log", tmp_path / "access.log", tmp_path / "alert-state.sqlite3"]
    for path in created:
        assert mode(path) & 0o007 == 0, f"{path.name}: {oct(mode(path))}"


@pytest.mark.slow
def test_the_sqlite_file_made_by_flask_db_upgrade_is_not_readable_by_other_users(tmp_path):
    database = tmp_path / "made.db"
    env = {**os.environ, "FLASK_APP": "microblog.py", "FLASK_DEBUG": "0", "SECRET_KEY": uuid.uuid4().hex,
           "DATABASE_URL": f"sqlite:///{database}", "LOG_DIR": str(tmp_path / "logs")}  # fmt: skip

    result = subprocess.run([str(FLASK), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, umask=0o022)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert mode(database) & 0o007 == 0, oct(mode(database))


def test_the_systemd_unit_sets_a_umask():
    unit = (ROOT / "deploy" / "systemd" / "microblog.service").read_text()
    assert "\nUMask=0027\n" in unit
