"""Build a test database the way a deployment does: `flask db upgrade`, so /readyz finds every migration."""

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app.extensions import db
from app.ops.migrations import use_migrations


def migrate_fresh(app: Flask) -> None:
    """Drop whatever is there and run every migration."""
    use_migrations(app)
    with app.app_context():
        drop_everything()
        upgrade()


def drop_schema(app: Flask) -> None:
    """Drop the tables and the migration stamp, and close the pool."""
    with app.app_context():
        drop_everything()
        db.engine.dispose()


def drop_everything() -> None:
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
