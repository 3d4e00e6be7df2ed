"""The factory, the settings and the `flask seed` command."""

import sqlalchemy as sa

from app.extensions import db
from app.models import Post, User
from config import database_url


def test_seed_fills_the_database_and_can_run_twice(runner, app):
    result = runner.invoke(args=["seed", "--users", "5", "--posts", "20", "--follows", "2"])
    assert result.exit_code == 0, result.output
    assert "Seeded 5 users, 20 posts" in result.output
    runner.invoke(args=["seed", "--users", "5", "--posts", "0", "--follows", "2"])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 5
        assert db.session.scalar(sa.select(sa.func.count(Post.id))) == 20


def test_database_url_maps_postgres_schemes_to_psycopg():
    assert database_url("postgres://u@h/db", "x") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql://u@h/db", "x") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///a.db", "x") == "sqlite:///a.db"
    assert database_url("", "sqlite:///default.db") == "sqlite:///default.db"
