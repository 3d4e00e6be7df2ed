"""One id per request (the trusted proxy's X-Request-ID, or made fresh, and sent back), and who made it."""

import re
import uuid

from flask import Flask, Response, current_app, g, has_request_context, request

HEADER = "X-Request-ID"
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Any of these above 0 says a proxy of ours is in front (app/security.py applies them with ProxyFix); only
# then is an incoming X-Request-ID the proxy's. Without one it is the client's: it could pose as another
# request's id in the log, the alert mail and `flask errors find`.
PROXY_SETTINGS = ("PROXY_FIX_X_FOR", "PROXY_FIX_X_PROTO", "PROXY_FIX_X_HOST", "PROXY_FIX_X_PORT", "PROXY_FIX_X_PREFIX")


def init_request_id(app: Flask) -> None:
    app.extensions["request_id_from_proxy"] = any(app.config.get(name, 0) for name in PROXY_SETTINGS)
    app.before_request(assign_request_id)
    app.after_request(send_request_id)


def assign_request_id() -> None:
    g.request_id = incoming_request_id() or uuid.uuid4().hex


def incoming_request_id() -> str | None:
    """Return the trusted proxy's X-Request-ID if it is a short token of safe characters; a client's is ignored."""
    if not current_app.extensions.get("request_id_from_proxy"):
        return None
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
