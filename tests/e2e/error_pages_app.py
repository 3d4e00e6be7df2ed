"""Microblog with one more view, /raise/<code>, so that a browser can meet the pages of statuses the site
answers only in rare cases (401, 403, 410) or only after a wait (429, 503). Served by gunicorn in
tests/e2e/test_accessibility.py; the real site never mounts it."""

from flask import abort

from app import create_app

app = create_app()


def raise_status(code: int):
    abort(code, retry_after=54) if code in (429, 503) else abort(code)


app.add_url_rule("/raise/<int:code>", "raise_status", raise_status)
