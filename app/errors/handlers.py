"""Every error the site can answer with: HTML in the site's look for browsers, JSON for API clients,
and RFC 9457 problem details for everything under /api/ (app/errors/problem_details.py).

Unhandled exceptions reach `handle_server_error` through Flask's own path: Flask logs them
(with the traceback, in the request thread, before anything is rolled back), turns them into
an InternalServerError, and calls the 500 handler; with FLASK_DEBUG on it lets the Werkzeug
debugger show instead.
"""

import time
from urllib.parse import urlsplit

from flask import Flask, current_app, g, json, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.http import HTTP_STATUS_CODES

from app.database import is_transient, log_unavailable, rollback_quietly
from app.errors.input_checks import ControlCharacterInText
from app.errors.problem_details import problem_response
from app.errors.resubmit import fields_to_type_again, may_refill, typed_fields
from app.errors.text import (
    CONTROL_CHARACTERS,
    DATABASE_BUSY,
    EXPIRED_FORM,
    EXPIRED_FORM_PLAIN,
    ErrorText,
    error_text,
    seconds_until,
)
from app.extensions import limiter, login
from app.observability.request_id import current_request_id
from app.rules import without_control_characters

KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")
TEMPLATES = {404: "errors/404.html", 500: "errors/500.html"}  # every other status: errors/error.html


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(ControlCharacterInText, handle_control_characters_in_text)
    app.register_error_handler(SQLAlchemyError, handle_database_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.context_processor(lambda: {"contact_email": current_app.config.get("CONTACT_EMAIL") or None})


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def wants_json() -> bool:
    """Answer in JSON under /api/, or when the client ranks JSON above HTML (no Accept or */* is HTML)."""
    if is_api_request():
        return True
    accept = request.accept_mimetypes
    return accept.quality("application/json") > accept.quality("text/html")


def error_response(error: HTTPException, template: str | None = None, text: ErrorText | None = None, **context):
    """Build the HTML or JSON answer for `error` in plain words, keeping the headers a client needs to act.

    The words never come from the instance: its description can carry exception text (a JSON decoding
    error, say). They come from app/errors/text.py, or from `text`.
    """
    code = error.code or 500
    text = text or error_text(error, retry_after_seconds(error))
    if is_api_request():
        response = problem_response(error, text.detail)
    elif wants_json():
        name = HTTP_STATUS_CODES.get(code, "Error")
        body = {"code": code, "name": name, "title": text.title, "detail": text.detail, "description": text.detail}
        response = jsonify(**body, request_id=current_request_id())
    else:
        template = template or TEMPLATES.get(code, "errors/error.html")
        context.setdefault("show_reference", shows_reference(code))
        html = render_template(template, code=code, title=text.title, text=text, request_id=current_request_id(),
                               **context)  # fmt: skip
        response = current_app.make_response(html)
    response.status_code = code
    for header, value in error.get_headers():
        if header in KEPT_HEADERS:
            response.headers[header] = value
    return response


def shows_reference(code: int) -> bool:
    """Say whether the page shows its request id: where someone may write to the team, who must then find the
    request in the log. The site failed (5xx); a limit shut them out (429: the log says which limit and why); or
    what they sent arrived too slowly (408: their connection or the site's deadline, which only the log line, with
    how much arrived in how long, can tell apart).

    A page whose fix is in the reader's hands (a mistyped address, a button's address opened, an expired form)
    shows none: a 32-character code there reads as a fault, and there is nothing in the log to find. The JSON
    answers and the X-Request-ID header keep it always.
    """
    return code >= 500 or code in (408, 429)


def retry_after_seconds(error: HTTPException) -> int | None:
    """Return the wait the answer's Retry-After asks for: the error's own, or the breached rate limit's."""
    retry_after = getattr(error, "retry_after", None)
    if retry_after is None and error.code == 429:
        try:
            limit = limiter.current_limit
            retry_after = int(limit.reset_at - time.time()) if limit else None
        except Exception:  # the limit's store may be what is down; the page then says "a minute"
            retry_after = None
    return seconds_until(retry_after)


def handle_http_error(error: HTTPException):
    if error.code == 404:
        log_not_found()
    if error.code == 500:
        return handle_server_error(error)
    # 5xx pages do not load the user: the database may be what failed. Nor does an address no page
    # matched (a mistyped link costs no query): both show the menu from the session (session_menu.py).
    safe_mode = (error.code or 500) >= 500 or request.url_rule is None
    if safe_mode:
        leave_user_unloaded()
    return error_response(error, safe_mode=safe_mode)


def log_not_found() -> None:
    """Log a broken link on this site at WARNING (someone should fix it), other 404s at INFO."""
    referer = request.referrer
    if referer and urlsplit(referer).netloc == request.host:
        page = urlsplit(referer)._replace(query="", fragment="").geturl()
        current_app.logger.warning("Broken link to %r on %s", request.path, page)
    else:
        current_app.logger.info("Not found: %r", request.path)


def handle_csrf_error(error: CSRFError):
    """Say the form expired; to the site's own pages, offer it again filled with what was typed (never secrets).

    Any other request (cross-site, or a session that never held a token) gets the plain page: no text
    of the request, no fresh token, no user loaded, so no cookie changes.
    """
    if not may_refill():
        leave_user_unloaded()
        return error_response(error, "errors/csrf_error.html", EXPIRED_FORM_PLAIN, fields=[], safe_mode=True)
    fields = typed_fields()
    again = fields_to_type_again(fields)
    return error_response(error, "errors/csrf_error.html", EXPIRED_FORM, fields=fields, type_again=again,
                          back=same_site_referer())  # fmt: skip


def handle_control_characters_in_text(error: ControlCharacterInText):
    """Refuse text holding characters no one can type; to the site's own pages, give it back without them."""
    if not may_refill():
        return handle_http_error(error)
    fields = typed_fields(clean=without_control_characters)
    return error_response(error, "errors/control_characters.html", CONTROL_CHARACTERS, fields=fields,
                          type_again=fields_to_type_again(fields), back=same_site_referer())  # fmt: skip


def same_site_referer() -> str | None:
    referer = request.referrer
    return referer if referer and urlsplit(referer).netloc == request.host else None


def handle_database_error(error: SQLAlchemyError):
    """Answer a busy, unreachable or read-only database with a 503 that gives back what the user typed.

    Every such error is one fault for the log and the alerts ("Database unavailable"), whichever
    page hit it. Any other database error is left to the 500 path.
    """
    if not is_transient(error):
        raise error
    rollback_quietly()
    leave_user_unloaded()
    log_unavailable(error)
    busy = ServiceUnavailable(retry_after=current_app.config["RETRY_AFTER"])
    return error_response(busy, "errors/database_busy.html", DATABASE_BUSY, fields=typed_fields(), safe_mode=True)


def handle_server_error(error: HTTPException):
    """Roll back, then render the 500 page without touching the database; never fail."""
    rollback_quietly()
    leave_user_unloaded()
    try:
        return error_response(InternalServerError(), safe_mode=True)
    except Exception:
        current_app.logger.exception("The 500 page failed to render; serving the static fallback")
        return fallback_server_error()


def leave_user_unloaded() -> None:
    """Keep Flask-Login's template context from loading the user: that is a query, and the database may be down."""
    if "_login_user" not in g:  # where Flask-Login keeps the request's user once loaded
        g._login_user = login.anonymous_user()


FALLBACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Something went wrong · Microblog</title>
<link rel="stylesheet" href="/bootstrap/static/css/bootstrap.min.css"></head>
<body><nav class="navbar navbar-dark bg-dark mb-4"><div class="container">
<a class="navbar-brand" href="/">Microblog</a></div></nav>
<main class="container"><h1>Something went wrong</h1>
<p>It was a problem on our side, not something you did. The team has been told.</p>
<p>Please try again in a few minutes.</p>
<p class="text-muted small">Reference: <code>{request_id}</code></p><a href="/">Go home</a></main></body></html>
"""
FALLBACK_DETAIL = "It was a problem on our side, not something you did. The team has been told."


def fallback_server_error():
    """Serve a page built from a plain string: no template, no database, no request data but the id."""
    request_id = str(escape(current_request_id()))
    if is_api_request():
        response = fallback_problem(request_id)
    elif wants_json():
        body = {"code": 500, "name": "Internal Server Error", "title": "Something went wrong"}
        response = jsonify(**body, detail=FALLBACK_DETAIL, description=FALLBACK_DETAIL, request_id=request_id)
    else:
        response = current_app.response_class(FALLBACK_PAGE.format(request_id=request_id), mimetype="text/html")
    response.status_code = 500
    return response


def fallback_problem(request_id: str):
    """The 500 problem built without url_for or the problem catalog, for when building the usual one failed."""
    detail = FALLBACK_DETAIL
    body = {"type": "/api/problems/server-error", "title": "Internal server error", "status": 500, "detail": detail}
    body |= {"instance": request_id, "code": 500, "name": "Internal Server Error", "description": detail}
    body["request_id"] = request_id
    return current_app.response_class(json.dumps(body), mimetype="application/problem+json")
