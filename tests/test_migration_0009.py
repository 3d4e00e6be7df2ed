"""Migration 0009 on existing rows: the follow counts it adds to each user are counted from `followers`."""

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from app.ops.migrations import use_migrations
from tests.conftest import PASSWORD_HASH, config_for_tests
from tests.support.schema import drop_everything


@pytest.fixture
def app_at_0008(tmp_path):
    app = create_app(config_for_tests(tmp_path))
    use_migrations(app)
    with app.app_context():
        drop_everything()
        upgrade(revision="0008")
    yield app
    with app.app_context():
        drop_everything()
        db.engine.dispose()


def test_the_counts_are_filled_from_the_follows_that_exist(app_at_0008):
    with app_at_0008.app_context():
        with db.engine.begin() as connection:
            for name in ("ann", "bea", "cy", "dan"):
                connection.execute(
                    sa.text('INSERT INTO "user" (username, username_key, email, password_hash, is_admin) '
                            "VALUES (:name, :name, :email, :hash, false)"),
                    {"name": name, "email": f"{name}@example.com", "hash": PASSWORD_HASH},
                )  # fmt: skip
            ids = dict(connection.execute(sa.text('SELECT username, id FROM "user"')).all())
            for follower, followed in (("ann", "bea"), ("cy", "bea"), ("ann", "cy")):
                connection.execute(
                    sa.text("INSERT INTO followers (follower_id, followed_id) VALUES (:a, :b)"),
                    {"a": ids[follower], "b": ids[followed]},
                )

        upgrade()

        with db.engine.connect() as connection:
            rows = connection.execute(sa.text('SELECT username, followers_count, following_count FROM "user"'))
            assert {name: (followers, following) for name, followers, following in rows} == {
                "ann": (0, 2), "bea": (2, 0), "cy": (1, 1), "dan": (0, 0),
            }  # fmt: skip
        downgrade(revision="0008")  # and back, for a release rolled back
        with db.engine.connect() as connection:
            columns = {column["name"] for column in sa.inspect(connection).get_columns("user")}
            assert "followers_count" not in columns
