"""One id per request (from a sane incoming X-Request-ID or made fresh, and sent back), and who made it."""

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-ID"
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def init_request_id(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.after_request(send_request_id)


def assign_request_id() -> None:
    g.request_id = incoming_request_id() or uuid.uuid4().hex


def incoming_request_id() -> str | None:
    """Return the client's or proxy's X-Request-ID if it is a short token of safe characters."""
    value = request.headers.get(HEADER, "")
    return value if SANE_ID.fullmatch(value) else None


def current_request_id() -> str:
    """Return this request's id, or "-" outside a request (start-up, CLI, background threads)."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        # An error raised before before_request ran (a 404 on routing, a 413) still gets an id.
        assign_request_id()
    return g.request_id


def send_request_id(response: Response) -> Response:
    response.headers[HEADER] = current_request_id()
    return response


def note_user(user_id: str, username: str | None = None) -> None:
    """Remember who makes this request, for the records made while serving it (called where the user is loaded)."""
    if has_request_context():
        g.user_label = f"{user_id} ({username})" if username else str(user_id)
        if republish := g.get("republish_inflight"):  # set by inflight.py under gunicorn
            republish()


def current_user_label() -> str:
    """Return "id (name)" of the request's user, just the id if loading them failed, or "anonymous"."""
    return g.get("user_label", "anonymous")
