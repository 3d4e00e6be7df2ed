"""The API's own errors, answered as RFC 9457 problem details (app/errors/problem_details.py).

The pattern from the Flask chapter on errors: views raise one exception class, `ApiError`,
with a status, a safe detail and a payload; one handler turns it into the response. Werkzeug's
errors under /api (404, 405, 413, 429, the 500) reach `problem_response` through app/errors/handlers.py.
"""

from flask import Blueprint, current_app
from sqlalchemy.exc import SQLAlchemyError

from app.database import is_transient, log_unavailable, rollback_quietly
from app.errors.problem_details import problem

# Each 401 names the scheme its operation reads (RFC 9110): a bearer token (RFC 6750) everywhere but
# POST /api/tokens, which reads a password by HTTP Basic, decoded as UTF-8 (RFC 7617).
BEARER_CHALLENGE = 'Bearer realm="microblog"'
BASIC_CHALLENGE = 'Basic realm="microblog", charset="UTF-8"'


class ApiError(Exception):
    """An error a view raises to answer with a problem: status, safe detail, extra members, headers."""

    def __init__(self, status: int, detail: str, payload: dict | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.payload = payload or {}
        self.headers = headers or {}


def unauthorized(detail: str, invalid_token: bool = False) -> ApiError:
    """Return the 401 of an operation that takes a bearer token."""
    challenge = BEARER_CHALLENGE + (', error="invalid_token"' if invalid_token else "")
    return ApiError(401, detail, headers={"WWW-Authenticate": challenge})


def password_refused(detail: str) -> ApiError:
    """Return the 401 of the operation that takes a username and password (HTTP Basic)."""
    return ApiError(401, detail, headers={"WWW-Authenticate": BASIC_CHALLENGE})


def register_error_handlers(bp: Blueprint) -> None:
    bp.register_error_handler(ApiError, handle_api_error)
    bp.register_error_handler(SQLAlchemyError, handle_database_error)


def handle_api_error(error: ApiError):
    response = problem(error.status, error.detail, **error.payload)
    response.headers.update(error.headers)
    return response


def handle_database_error(error: SQLAlchemyError):
    """A busy, unreachable or read-only database is a 503 the client may retry; any other error is a fault (500)."""
    if not is_transient(error):
        raise error
    rollback_quietly()
    log_unavailable(error)
    response = problem(503, "The database cannot be reached for the moment. Nothing was changed; try again shortly.")
    response.headers["Retry-After"] = str(current_app.config["RETRY_AFTER"])
    return response
