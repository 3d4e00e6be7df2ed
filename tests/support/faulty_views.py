"""Views that fail on purpose, for the tests of what an operator gets from a failure (mail, log, Sentry, page).

Where any failure will do, a test uses the app's own /demo/error (DEMO_ERRORS on) instead.
"""

from flask import Flask, request

from tests.support.secrets import PLANTED_DB_PASSWORD


def boom():
    """Fail as a bug next to secrets does: a RuntimeError naming a database URL, raised while handling a KeyError."""
    password = request.form.get("password")  # noqa: F841 - a local on purpose: Sentry sends frame locals
    try:
        {}["missing"]
    except KeyError as error:
        raise RuntimeError(f"Kaboom 💥 at postgresql://app:{PLANTED_DB_PASSWORD}@db/microblog") from error


def other_fault():
    """Fail in another way than `boom` (another fingerprint)."""
    raise ValueError("a different fault")


def add_faulty_views(app: Flask) -> None:
    """Serve `boom` at /boom (GET and POST) and `other_fault` at /other."""
    app.add_url_rule("/boom", "boom", boom, methods=["GET", "POST"])
    app.add_url_rule("/other", "other", other_fault)
