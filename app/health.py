"""Liveness and readiness answers for the process manager and the load balancer, kept out of every log."""

import ast
import os
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from app.database import is_transient
from app.extensions import db, limiter

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
    """Answer 200 when the database is there, answers and has every migration; else 503 with the reason."""
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
    return None if version == migrations_head(current_app.root_path) else "migrations pending"


@cache
def migrations_head(root_path: str) -> str:
    """Return the newest revision of the migrations this code ships (read once: it changes only with the code).

    Read from the migration files' `revision` and `down_revision`, as Alembic reads them, but without
    importing Alembic: that is 10 MB of every worker's memory (issue 15). tests/test_health.py checks the
    answer against Alembic's own.
    """
    revisions, parents = set(), set()
    for path in (Path(root_path).parent / "migrations" / "versions").glob("*.py"):
        fields = {
            node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            if node.targets[0].id in ("revision", "down_revision")
        }
        revisions.add(fields["revision"])
        down = fields.get("down_revision")
        parents.update(down if isinstance(down, tuple | list) else [down])  # a merge names two
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()
