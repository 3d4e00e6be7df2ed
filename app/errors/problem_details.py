"""RFC 9457 problem details (`application/problem+json`): the error answer under /api.

Every error there, raised by the API's own views (app/api/errors.py's ApiError) or met on the way
(a 404, a 405, a 429, the 500 from app/errors/handlers.py), is one of the kinds of problem in the
catalog below; each kind's `type` is the address of a page explaining it (app/api/problems.py).
"""

import json
import re
from dataclasses import dataclass

from flask import current_app
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from app.errors.text import error_text
from app.observability.request_id import current_request_id
from app.templating import site_url_for

MEDIA_TYPE = "application/problem+json"
GENERIC_SLUG = re.compile(r"http-([1-5][0-9]{2})")


def problem(status: int, detail: str, kind: "ProblemType | None" = None, **members):
    """Build the problem+json response (of the status's own kind unless given); `code`, `name`, `description` and
    `request_id` keep older clients working."""
    kind = kind or problem_for_status(status)
    request_id = current_request_id()
    body = {
        "type": type_url(kind),
        "title": kind.title,
        "status": status,
        "detail": detail,
        "instance": request_id,
        **members,
        "code": status,
        "name": HTTP_STATUS_CODES.get(status, "Error"),
        "description": detail,
        "request_id": request_id,
    }
    return current_app.response_class(json.dumps(body), status=status, mimetype=MEDIA_TYPE)


def problem_response(error: HTTPException, detail: str | None = None):
    """Answer a Werkzeug error in the plain words of app/errors/text.py, never the instance's (it can carry
    exception text)."""
    return problem(error.code or 500, detail or error_text(error).detail, CATALOG.get(getattr(error, "problem", "")))


@dataclass(frozen=True)
class ProblemType:
    """What went wrong, in words a client developer can act on.

    The first kind of a status is the status's own; another is named by the error that raises it (its `problem`).
    """

    slug: str
    status: int
    title: str
    explanation: str


CATALOG = {
    problem.slug: problem
    for problem in [
        ProblemType(
            "malformed-json", 400, "Malformed JSON", "The request body is not valid JSON. Send one JSON object."
        ),
        ProblemType(
            "bad-page-position",
            400,
            "Bad page position",
            "A list's `before` or `after` is not a cursor this API gave (a page's `older` or `newer`), or more than "
            "one of `page`, `before` and `after` was sent. Start from the first page and follow the `Link` header.",
        ),
        ProblemType(
            "unauthorized",
            401,
            "Authentication required",
            "Send `Authorization: Bearer <token>`. Get a token with `POST /api/tokens` and HTTP Basic "
            "(your username and password). Tokens expire; a revoked or expired token gets this answer too.",
        ),
        ProblemType("forbidden", 403, "Forbidden", "The resource exists but is not yours to change."),
        ProblemType("not-found", 404, "Not found", "Nothing lives at this address: no such user, post or page."),
        ProblemType(
            "method-not-allowed", 405, "Method not allowed", "This address does not take that method; see `Allow`."
        ),
        ProblemType("conflict", 409, "Conflict", "The username or email is taken. Choose another one and send again."),
        ProblemType("body-too-large", 413, "Request body too large", "The body is over the size limit (1 MiB)."),
        ProblemType(
            "unsupported-media-type",
            415,
            "Unsupported media type",
            "Send the body as JSON with `Content-Type: application/json`.",
        ),
        ProblemType(
            "validation-failed",
            422,
            "Validation failed",
            "The JSON is well formed but some fields are wrong. `errors` lists each one: `pointer` is a JSON "
            "Pointer (RFC 6901) to the field in your body (or `parameter` names a query parameter), `detail` says "
            "what is wrong.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too many requests",
            "This token (or, without a token, this address) sent too many requests. Wait `Retry-After` seconds.",
        ),
        ProblemType(
            "server-error",
            500,
            "Internal server error",
            "Something failed on our side and has been logged. Quote `instance` (the request id) when you report it.",
        ),
        ProblemType(
            "unavailable",
            503,
            "Service unavailable",
            "The database cannot be reached for the moment. Nothing was changed; send again after `Retry-After`.",
        ),
    ]
}
BY_STATUS = {problem.status: problem for problem in reversed(CATALOG.values())}  # the first of each status


def problem_for_status(status: int) -> ProblemType:
    """Return the catalog's problem for `status`, or a generic one named after the status."""
    if status in BY_STATUS:
        return BY_STATUS[status]
    name = HTTP_STATUS_CODES.get(status, "Error")
    exception = default_exceptions.get(status, HTTPException)
    return ProblemType(f"http-{status}", status, name, exception.description or name)


def type_url(problem: ProblemType) -> str:
    """Return the address of the page explaining `problem`, on SITE_URL: never the Host the client sent."""
    return site_url_for("api.problems.page", slug=problem.slug)


def find_problem(slug: str) -> ProblemType | None:
    if slug in CATALOG:
        return CATALOG[slug]
    generic = GENERIC_SLUG.fullmatch(slug)
    if generic and int(generic.group(1)) in HTTP_STATUS_CODES:
        return problem_for_status(int(generic.group(1)))
    return None
