"""The JSON API under /api: tokens, users, posts and follows; problem+json errors; an OpenAPI 3.1 document.

The API is a blueprint of blueprints, one per concern. It carries no cookies and so needs no CSRF
token; it is rate limited per bearer token (per address without one).

    tokens.py, users.py, posts.py   the operations, thin handlers over the models and services
    auth.py                         HTTP Basic for a token, bearer tokens for the rest
    schemas.py, openapi.py          pydantic models: request validation and the OpenAPI document
    errors.py                       ApiError, answered as problem details (app/errors/problem_details.py)
    problems.py                     the page each problem type's URL points to
    reference.py                    /api/docs, the API reference (Swagger UI, served from a package)

It imports the base layer, app/auth/ and app/main/ (their services: limits, the lists of posts),
app/errors/ and app/observability/; nothing imports it but create_app.
"""

from flask import Blueprint, Response, current_app, request

from app.api import errors, openapi, posts, problems, reference, tokens, users
from app.api.auth import rate_limit_key
from app.auth.limits import log_refused_request
from app.errors.handlers import leave_user_unloaded
from app.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api")
errors.register_error_handlers(bp)
for part in (tokens.bp, users.bp, posts.bp, problems.bp, openapi.bp, reference.bp):
    bp.register_blueprint(part)
    csrf.exempt(part)  # Flask-WTF looks up the request's own (nested) blueprint, so each is exempted

# Callers are known by their token, never by a cookie: the web login's user is not loaded (Flask-Login would
# refresh the session from a remember cookie), and app/security.py saves no session under /api/.
bp.before_request(leave_user_unloaded)


@bp.after_request
def never_store_answers_to_credentials(response: Response) -> Response:
    """Mark every answer to a request that sent credentials (Basic for a token, a bearer token) `no-store`:
    it holds a token or someone's own data, which no cache, shared or the client's own, may keep."""
    if "Authorization" in request.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


# One counter per token (per address without one) for every operation together, not one per operation.
limiter.shared_limit(api_rate_limit, "api", key_func=rate_limit_key, on_breach=log_refused_request)(bp)
