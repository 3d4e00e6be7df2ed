"""The committed migrations build exactly the models' schema."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from app.ops.migrations import use_migrations
from tests.conftest import config_for_tests


def test_upgrade_on_empty_database_matches_the_models(tmp_path):
    app = create_app(config_for_tests(tmp_path))
    use_migrations(app)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == []
        assert {"user", "post", "followers"} <= set(sa.inspect(db.engine).get_table_names())
        db.drop_all()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()
