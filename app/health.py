"""Liveness and readiness answers for the process manager and the load balancer, kept out of every log."""

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

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
    """Answer 200 when the database answers `SELECT 1`, else 503 with the reason."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        # The exception text can name the host and the user; the reason stays generic.
        return jsonify(status="unavailable", reason="database unreachable"), 503
    return jsonify(status="ok")
