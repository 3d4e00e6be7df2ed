"""Liveness and readiness answers for the process manager and the load balancer, kept out of every log."""

import os

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from app.database import is_transient
from app.extensions import db, limiter
from app.ops.migrations import migrations_head, migrations_revisions

# Set on the WSGI environ, where gunicorn's access logger (gunicorn.conf.py) looks for it to skip the line.
SKIP_ACCESS_LOG = "microblog.skip_access_log"

bp = Blueprint("health", __name__)
limiter.exempt(bp)


@bp.before_request
def keep_out_of_logs() -> None:
    """Mark the request so that the server's access log leaves it out."""
    request.environ[SKIP_ACCESS_LOG] = True


@bp.route("/healthz")
def healthz():
    """Answer that this process serves requests, without asking the database."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    """Answer 200 when the database is there, answers and has every migration this code needs; else 503 and why."""
    reason = database_problem()
    if reason:
        # The exception text can name the host and the user; the reason stays generic.
        return jsonify(status="unavailable", reason=reason), 503
    return jsonify(status="ok")


def database_problem() -> str | None:
    """Say what keeps the database from serving: a missing file, no answer, or migrations not yet run."""
    path = db.engine.url.database if db.engine.dialect.name == "sqlite" else None
    if path and path != ":memory:" and not (os.path.isfile(path) and os.access(path, os.R_OK | os.W_OK)):
        return "database file missing or unreadable"  # a pooled connection may still read a file moved away
    try:
        version = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError as error:
        db.session.rollback()
        return "database unreachable" if is_transient(error) else "migrations pending"
    return migrations_problem(version)


def migrations_problem(version: str | None) -> str | None:
    """Say "migrations pending" when the database lacks a migration this code needs, else nothing.

    A revision this code does not know is a newer release's. In a rolling deploy that release migrates
    first, and its migrations only add (docs/deployment.md), so this code still works on the database:
    the host stays ready until it is replaced, rather than every old host leaving the pool at once.
    """
    head = migrations_head(current_app.root_path)
    if version == head:
        return None
    if version is None or version in migrations_revisions(current_app.root_path):
        return "migrations pending"
    warn_once_of_newer_revision(version, head)
    return None


def warn_once_of_newer_revision(version: str, head: str) -> None:
    """Log the newer revision once per process (its app), not at every probe of the load balancer."""
    warned = current_app.extensions.setdefault("microblog.newer_revisions_seen", set())
    if version in warned:
        return
    warned.add(version)
    current_app.logger.warning(
        "The database is at a newer revision than this release (%s; this release's newest is %s): "
        "a newer release has migrated it. Still ready, as in a rolling deploy",
        version,
        head,
    )
