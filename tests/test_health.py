"""Liveness (/healthz) and readiness (/readyz): what they check, what they answer, and that they stay out of logs."""

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from app import create_app
from app.extensions import db
from app.ops.health import SKIP_ACCESS_LOG, migrations_head
from tests.conftest import config_for_tests
from tests.support.servers import ROOT, free_port


@pytest.fixture
def app(app):
    """The app on tables stamped with the newest migration, as `flask db upgrade` leaves them (/readyz checks)."""
    assert app.test_cli_runner().invoke(args=["db", "stamp", "head"]).exit_code == 0
    yield app
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def statements(app):
    """The SQL statements the app runs from now on."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


@pytest.fixture
def database_down(tmp_path):
    """An app whose PostgreSQL is not there: nothing listens on the port."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/microblog"
    return create_app(config_for_tests(tmp_path, SQLALCHEMY_DATABASE_URI=url))


def test_healthz_answers_without_asking_the_database(client, statements):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert statements == []


def test_readyz_asks_the_database_which_migration_it_has(client, statements):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert statements == ["SELECT version_num FROM alembic_version"]


def test_healthz_is_alive_while_the_database_is_down(database_down):
    assert database_down.test_client().get("/healthz").status_code == 200


def test_readyz_answers_503_with_a_reason_when_the_database_is_down(database_down):
    response = database_down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "reason": "database unreachable"}
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_readyz_keeps_answering_503_never_500_while_down(database_down):
    client = database_down.test_client()
    assert [client.get("/readyz").status_code for _ in range(3)] == [503, 503, 503]


def set_database_revision(app, revision: str | None) -> None:
    """Put the database at `revision` of the migrations, as a release's `flask db upgrade` would leave it."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM alembic_version"))
        if revision:
            connection.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:r)"), {"r": revision})


# A revision id this code does not ship, in Alembic's style: what the next release's migration leaves behind.
NEWER_RELEASE_REVISION = "9f3c2a1b7d4e"


def test_readyz_stays_ready_when_a_newer_release_migrated_and_warns_once(app, client, caplog):
    """In a rolling deploy the new release migrates first (additive changes only): the old hosts keep serving."""
    set_database_revision(app, NEWER_RELEASE_REVISION)

    with caplog.at_level(logging.DEBUG):
        answers = [client.get("/readyz") for _ in range(3)]

    assert [(answer.status_code, answer.json) for answer in answers] == [(200, {"status": "ok"})] * 3
    [warning] = caplog.records  # one line for the process, not one a probe
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == (
        "The database is at a newer revision than this release (9f3c2a1b7d4e; this release's newest is 0009): "
        "a newer release has migrated it. Still ready, as in a rolling deploy"
    )


@pytest.mark.parametrize("revision", ["0007", "0001", None], ids=["one-behind", "first", "no-revision"])
def test_readyz_answers_503_while_the_database_is_behind_this_release(app, client, caplog, revision):
    set_database_revision(app, revision)

    with caplog.at_level(logging.DEBUG):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "reason": "migrations pending"}
    assert caplog.records == []


@pytest.fixture
def server_environs(app) -> list[dict]:
    """The WSGI environ of each request, as the server holds it after the app answered (gunicorn logs from it)."""
    environs = []
    serve = app.wsgi_app

    def remember_environ(environ, start_response):
        environs.append(environ)
        return serve(environ, start_response)

    app.wsgi_app = remember_environ
    return environs


# The mark's effect, no access line in gunicorn's log, is checked on real gunicorn in tests/test_gunicorn.py.


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_checks_are_marked_for_the_access_log_and_log_nothing(client, server_environs, caplog, path):
    with caplog.at_level(logging.DEBUG):
        assert client.get(path).status_code == 200
    [environ] = server_environs
    assert environ.get(SKIP_ACCESS_LOG) is True
    assert caplog.records == []


def test_health_checks_log_nothing_even_when_the_database_is_down(database_down, caplog):
    with caplog.at_level(logging.DEBUG):
        assert database_down.test_client().get("/readyz").status_code == 503
    assert caplog.records == []


def test_other_pages_are_not_marked(client, server_environs):
    assert client.get("/explore").status_code == 200
    [environ] = server_environs
    assert SKIP_ACCESS_LOG not in environ


def test_healthz_with_a_session_cookie_still_asks_nothing(client, auth, make_user, statements, app):
    app.config["LAST_SEEN_INTERVAL"] = 0  # would write last_seen on any other page
    auth.login(make_user())
    statements.clear()
    assert client.get("/healthz").status_code == 200
    assert statements == []


def alembic_head(migrations: Path) -> str:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations))
    return ScriptDirectory.from_config(config).get_current_head()


def test_the_migrations_head_is_alembics_without_alembic(app, tmp_path):
    """/readyz reads the newest migration from the files (no Alembic in a worker); Alembic agrees."""
    shipped = Path(app.root_path).parent / "migrations"
    assert migrations_head(app.root_path) == alembic_head(shipped) == "0009"
    # A tree with a merge: "m" names two parents, as `flask db merge` writes it.
    copy = tmp_path / "project" / "migrations"
    shutil.copytree(shipped, copy)
    for name, down in (("b1", '"0009"'), ("b2", '"0009"'), ("m", '("b1", "b2")')):
        (copy / "versions" / f"{name}.py").write_text(f'revision = "{name}"\ndown_revision = {down}\n')
    app_root = str(tmp_path / "project" / "app")
    assert migrations_head(app_root) == alembic_head(copy) == "m"


def test_a_worker_imports_neither_alembic_nor_redis(tmp_path):
    """Alembic (10 MB) and, without Redis configured, its client (6 MB): a worker's app, a page and /readyz run
    without them (a worker under 80 MB); `flask db` still loads Flask-Migrate and its commands."""
    code = (
        "import sys\n"
        "from app import create_app\n"
        "from app.extensions import db\n"
        f"app = create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path / 'worker.db'}'}})\n"
        "with app.app_context():\n"
        "    db.create_all()\n"
        "client = app.test_client()\n"
        "assert client.get('/explore').status_code == 200\n"
        "assert client.get('/readyz').status_code in (200, 503)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('alembic', 'flask_migrate', 'redis')))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    help_text = subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "microblog", "db", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SECRET_KEY": "k" * 40, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"},
    )
    assert help_text.returncode == 0 and "upgrade" in help_text.stdout and "downgrade" in help_text.stdout
