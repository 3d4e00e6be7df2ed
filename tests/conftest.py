"""Fixtures: an app on a throwaway database, its clients, and factories for users and posts."""

import itertools
import os
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from werkzeug.security import generate_password_hash

from app import create_app
from app.extensions import db
from app.models import Post, User, utcnow
from config import TestConfig, database_url
from tests.support import tools
from tests.support.faulty_views import add_faulty_views
from tests.support.postgres import create_own_database, drop_database

PASSWORD = "correct horse battery"
# Hashed once as TestConfig says (one iteration): real hashing is slow and not what these tests are about.
PASSWORD_HASH = generate_password_hash(PASSWORD, method=TestConfig.PASSWORD_HASH_METHOD)


def config_for_tests(tmp_path, **overrides) -> dict:
    """Return settings for create_app (on top of TestConfig): a fresh SQLite file, or TEST_DATABASE_URL when set."""
    settings = dict(overrides)
    if not os.environ.get("TEST_DATABASE_URL"):
        settings.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'test.db'}")
    return settings


RUN_DATABASE_PREFIX = "microblog_run_"
RUN_DATABASE = pytest.StashKey[tuple[str, str]]()  # (the server's admin URL, this run's database)


def pytest_configure(config):
    """Under TEST_DATABASE_URL (the PostgreSQL pass), work in a database of this run's own, dropped at the end.

    The tables are dropped and made again by every test: two runs on one server in one database (CI's pass beside a
    developer's, or beside a run killed halfway that left a backend holding a lock) would meet in them. A run's
    database is named after its start time, so one left by a killed run is dropped by the next run a day later.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if not url or hasattr(config, "workerinput"):
        return
    admin, name, own = create_own_database(url, RUN_DATABASE_PREFIX)
    os.environ["TEST_DATABASE_URL"] = own
    TestConfig.SQLALCHEMY_DATABASE_URI = database_url(own, "")  # read at its import
    config.stash[RUN_DATABASE] = (admin, name)


def pytest_unconfigure(config):
    if RUN_DATABASE not in config.stash:
        return
    drop_database(*config.stash[RUN_DATABASE])


@pytest.fixture
def config_overrides(request) -> dict:
    """Settings a test module can override by redefining this fixture (or a test through indirect parametrize)."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def app(tmp_path, config_overrides):
    """An app on empty tables. No app context stays pushed, so each request gets its own, as in production."""
    app = create_app(config_for_tests(tmp_path, **config_overrides))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def detached(instance):
    """Load every column of `instance` and detach it, so a test can read it outside any app context."""
    db.session.refresh(instance)
    db.session.expunge(instance)
    return instance


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_serial = itertools.count(1)


@pytest.fixture
def make_user(app):
    """Create and return a user; names and emails are unique unless given."""

    def make(username: str | None = None, email: str | None = None, about_me: str | None = None) -> User:
        n = next(_serial)
        name = username or f"user{n}"
        user = User(username=name, email=email or f"{name}@example.com", about_me=about_me, password_hash=PASSWORD_HASH)
        with app.app_context():
            db.session.add(user)
            db.session.commit()
            return detached(user)

    return make


@pytest.fixture
def make_post(app):
    """Create and return a post; `minutes_ago` orders posts in time."""

    def make(author: User, body: str = "hello", minutes_ago: int = 0) -> Post:
        post = Post(body=body, user_id=author.id, timestamp=utcnow() - timedelta(minutes=minutes_ago))
        with app.app_context():
            db.session.add(post)
            db.session.commit()
            return detached(post)

    return make


class AuthActions:
    """Log a test client in and out through the real forms."""

    def __init__(self, client):
        self.client = client

    def login(self, user: User, password: str = PASSWORD, **extra):
        data = {"username": user.username, "password": password, **extra}
        return self.client.post("/login", data=data)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free loopback port: (inbox, port)."""
    from app.observability.logs import remove_installed_handlers
    from tests.support.smtp import smtp_server

    with smtp_server() as server:
        yield server
        # Close the apps' alert workers while the server still runs: a mail still being delivered as the
        # server stops would leave its connection's transport unclosed (a ResourceWarning, an error here).
        remove_installed_handlers()


@pytest.fixture
def faulty_views(app):
    """Views that fail on purpose: /boom (a RuntimeError near planted secrets) and /other (a ValueError)."""
    add_faulty_views(app)


@pytest.fixture(autouse=True)
def _stop_logging_and_alerts():
    """After each test, close the log files and alert workers a test app opened."""
    yield
    from app.observability.logs import remove_installed_handlers

    remove_installed_handlers()


REDIS = "redis://127.0.0.1:6379/0"  # this machine's (`make services` starts it)


@contextmanager
def redis_keys():
    """Yield a key prefix of a test's own on the real Redis; delete every key under it afterwards."""
    prefix = f"microblog-test-{uuid.uuid4().hex}:"
    yield prefix
    store = redis.Redis.from_url(REDIS)
    for key in store.scan_iter(prefix + "*"):
        store.delete(key)
    store.close()


@pytest.fixture
def redis_prefix():
    with redis_keys() as prefix:
        yield prefix


@pytest.fixture(params=["sqlite", "redis"])
def shared_state(request):
    """Settings for the state the workers share: the default SQLite file, or Redis under a fresh key prefix."""
    if request.param == "sqlite":
        yield {}
        return
    with redis_keys() as prefix:
        yield {"ALERT_STATE_URL": REDIS, "ALERT_STATE_PREFIX": prefix}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Report the tests make test-quick left out at one place, so that `-ra` prints one line a program."""
    report = yield
    if report.skipped and tools.left_out([report]):
        report.longrepr = (tools.__file__, None, report.longrepr[2])
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    """Under make test-quick, end the run (after pytest's own summary) by saying what it left out."""
    yield
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if tools.QUICK and reporter:
        reporter.write_line(tools.left_out_summary(tools.left_out(reporter.stats.get("skipped", []))))
