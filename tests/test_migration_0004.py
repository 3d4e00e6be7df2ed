"""Migration 0004 on existing rows: names and addresses that collide in any letter case stop it, named."""

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.ops.migrations import use_migrations
from tests.conftest import PASSWORD_HASH, config_for_tests
from tests.support.schema import drop_everything


@pytest.fixture
def app_at_0003(tmp_path):
    """An app whose database is migrated up to 0003, before this issue's migration."""
    app = create_app(config_for_tests(tmp_path))
    use_migrations(app)
    with app.app_context():
        drop_everything()
        upgrade(revision="0003")
    yield app
    with app.app_context():
        drop_everything()
        db.engine.dispose()


def add_rows(*rows: tuple[str, str]) -> None:
    statement = sa.text(
        'INSERT INTO "user" (username, email, password_hash, is_admin) VALUES (:name, :email, :hash, false)'
    )
    with db.engine.begin() as connection:
        for name, email in rows:
            connection.execute(statement, {"name": name, "email": email, "hash": PASSWORD_HASH})


def test_colliding_names_and_addresses_stop_the_migration_and_are_named(app_at_0003, capfd):
    with app_at_0003.app_context():
        add_rows(("demo1", "a@example.com"), ("Demo1", "b@example.com"), ("carol", "C@example.com"),
                 ("dave", "c@example.com"), ("erin", "e@example.com"))  # fmt: skip

        with pytest.raises(SystemExit) as stopped:  # what `flask db upgrade` does: "Error: ..." and exit status 1
            upgrade()

        assert stopped.value.code == 1
        message = capfd.readouterr().err  # migrations/alembic.ini logs to stderr, as the operator sees it
        assert "Migration 0004 stopped" in message and "Nothing was changed" in message
        assert "username 'demo1': id 1 'demo1', id 2 'Demo1'" in message
        assert "email 'c@example.com': id 3 'C@example.com', id 4 'c@example.com'" in message
        assert "erin" not in message
        with db.engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0003"
            assert connection.scalar(sa.text('SELECT email FROM "user" WHERE id = 3')) == "C@example.com"


def test_without_collisions_emails_are_lower_cased_and_names_get_their_key(app_at_0003):
    with app_at_0003.app_context():
        add_rows(("Demo1", "Demo1@Example.com"), ("erin", "erin@example.com"))

        upgrade()

        with db.engine.connect() as connection:
            rows = connection.execute(sa.text('SELECT username, username_key, email FROM "user" ORDER BY id')).all()
            assert [tuple(row) for row in rows] == [("Demo1", "demo1", "demo1@example.com"),
                                                    ("erin", "erin", "erin@example.com")]  # fmt: skip
            with pytest.raises(sa.exc.IntegrityError):
                connection.execute(sa.text(
                    "INSERT INTO \"user\" (username, username_key, email, is_admin) "
                    "VALUES ('DEMO1', 'demo1', 'x@y.z', false)"
                ))  # fmt: skip
