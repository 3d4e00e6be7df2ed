"""Fault injection against real gunicorn: a site database, servers started on it, and the log they write.

The database is a SQLite file of the module's own, or the PostgreSQL of TEST_DATABASE_URL (the server
then gets that URL as DATABASE_URL); the tables are made with the app's db.create_all() in this process
and dropped afterwards. Users are added here, straight into the database, so that a test arranges in a line.
"""

import os
import re
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.extensions import db
from app.models import Post, User
from bench.site import worker_pids
from config import database_url
from tests.conftest import PASSWORD, PASSWORD_HASH, config_for_tests
from tests.support.schema import drop_schema, migrate_fresh
from tests.support.servers import Server, gunicorn
from tests.support.smtp import smtp_server
from tests.support.visitor import Visitor
from tests.support.waiting import wait_for

SECRET_KEY = "fault-suite-" + uuid.uuid4().hex
HTML = {"Accept": "text/html"}
# `2025-01-31T12:00:00.123Z LEVEL host [request-id] logger: message`, as app/observability/logs.py writes it.
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<host>[\w.-]+) \[(?P<request_id>[^\]]+)\] "
)


@dataclass
class SiteDatabase:
    """The database the servers run on, and an app in this process to arrange and check its rows."""

    url: str
    app: Flask

    def add_user(self, username: str | None = None) -> str:
        """Create a user who logs in with tests.conftest.PASSWORD; return the name."""
        name = username or f"u{uuid.uuid4().hex[:10]}"
        with self.app.app_context():
            db.session.add(User(username=name, email=f"{name}@example.com", password_hash=PASSWORD_HASH))
            db.session.commit()
        return name

    def posts_of(self, username: str) -> list[str]:
        with self.app.app_context():
            query = sa.select(Post.body).join(Post.author).where(User.username == username).order_by(Post.id)
            return list(db.session.scalars(query))

    def user(self, username: str) -> User | None:
        with self.app.app_context():
            person = db.session.scalar(sa.select(User).where(User.username == username))
            if person is not None:
                db.session.expunge(person)
            return person


@pytest.fixture(scope="module")
def site_database(tmp_path_factory) -> SiteDatabase:
    folder = tmp_path_factory.mktemp("database")
    url = database_url(os.environ.get("TEST_DATABASE_URL"), f"sqlite:///{folder / 'site.db'}")
    app = create_app(config_for_tests(folder, SQLALCHEMY_DATABASE_URI=url))
    migrate_fresh(app)
    yield SiteDatabase(url, app)
    drop_schema(app)


def record_lines(text: str) -> list[str]:
    """Return the first line of each record (a traceback's lines follow their record's line)."""
    return [line for line in text.splitlines() if LOG_LINE.match(line)]


class LogFile:
    """The app's log (LOG_DIR/microblog.log, and microblog-repeats.log beside it) as an operator reads it."""

    def __init__(self, path: Path):
        self.path = path
        self.repeats_path = path.with_name("microblog-repeats.log")

    def text(self) -> str:
        files = [path for path in (self.path, self.repeats_path) if path.is_file()]
        return "".join(path.read_text(encoding="utf-8", errors="replace") for path in files)

    def records(self) -> list[str]:
        return record_lines(self.text())

    def wait_for(self, pattern: str, timeout: float = 15.0) -> str:
        """Return the first record line matching `pattern`, waiting for it (the alert thread logs late)."""

        def matching(text: str) -> list[str]:
            return [line for line in record_lines(text) if re.search(pattern, line)]

        return matching(wait_for(matching, self.text, timeout, what=f"a log record matching {pattern!r}"))[0]

    def wait_for_failure(self, request_id: str, full: str, where: str) -> str:
        """Return the line of a failing request: its full record (`full` after its id), or in a window the
        summary of repeats that lists its id (`where` is the method, path and status: "GET /explore 503")."""
        own = re.escape(request_id)
        listed = rf"\[-\] \d+ repeats? of \w+ {re.escape(where)} .*; requests: (.* )?{own}( |$)"
        return self.wait_for(rf"ERROR \S+ (\[{own}\] {full}|{listed})")

    def errors(self) -> list[str]:
        return [line for line in self.records() if LOG_LINE.match(line)["level"] in {"ERROR", "CRITICAL"}]


@dataclass
class RunningSite:
    server: Server
    log: LogFile
    folder: Path

    @property
    def url(self) -> str:
        return self.server.url

    def worker_pids(self) -> set[int]:
        return set(worker_pids(self.server.process.pid))


def site_env(database: SiteDatabase, folder: Path, **extra: str) -> dict[str, str]:
    """A development-mode deployment (so that /demo/error exists) with its log and alert state in `folder`."""
    return {
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database.url,
        "LOG_DIR": str(folder / "logs"),
        "ALERT_STATE_PATH": str(folder / "alert-state.sqlite3"),  # never the checkout's instance/ folder
        "MICROBLOG_ENV": "development",  # gunicorn.conf.py defaults to production, which refuses DEMO_ERRORS
        "DEMO_ERRORS": "1",
        "FLASK_DEBUG": "0",
        "MAIL_SERVER": "",
        # Every request here comes from 127.0.0.1; the account-form limits are tested in tests/test_ratelimit.py.
        "RATELIMIT_ENABLED": "0",
        "LAST_SEEN_INTERVAL": "0",  # write to the database on every logged-in request
        "PROXY_FIX_X_FOR": "1",  # the tests play the proxy whose X-Request-ID is believed
        **extra,
    }


@pytest.fixture(scope="module")
def serve(site_database, tmp_path_factory):
    """Return a function that starts gunicorn on the site database with extra settings; all stop with the module."""
    with ExitStack() as stack:

        def start(
            workers: int = 2, app: str = "microblog:app", args=(), port: int | None = None, **env: str
        ) -> RunningSite:
            folder = tmp_path_factory.mktemp("site")
            settings = site_env(site_database, folder, **env)
            server = stack.enter_context(gunicorn(folder, settings, workers=workers, app=app, args=args, port=port))
            return RunningSite(server, LogFile(folder / "logs" / "microblog.log"), folder)

        yield start


@pytest.fixture(scope="module")
def site(serve):
    """The site with no mail set up; a module that needs mail overrides this fixture."""
    return serve()


def logged_in_visitor(site: RunningSite, database: SiteDatabase) -> tuple[str, Visitor]:
    """Create a user in the site's database and log a new visitor in as them; return (name, visitor)."""
    name = database.add_user()
    visitor = Visitor(site.url)
    visitor.log_in(name, PASSWORD)
    return name, visitor


@pytest.fixture(scope="module")
def mail_inbox():
    """A real SMTP server on loopback for one module's server: (its inbox, its port)."""
    with smtp_server() as (inbox, port):
        yield inbox, port
