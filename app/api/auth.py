"""Who is calling: HTTP Basic to get a token, a bearer token for everything else, and the per-token rate-limit key."""

from collections.abc import Callable
from functools import wraps

from flask import g, request
from flask_limiter.util import get_remote_address

from app.api.errors import password_refused, unauthorized
from app.auth import accounts
from app.models import Token, User


def bearer_secret() -> str | None:
    """Return the token sent as `Authorization: Bearer <token>`, if any."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def current_token() -> Token | None:
    """Return the valid token this request carries, looked up once per request."""
    if "api_token" not in g:
        secret = bearer_secret()
        g.api_token = Token.find_valid(secret) if secret else None
    return g.api_token


def current_api_user() -> User:
    """Return the user of this request's token (call only inside `token_required`)."""
    return current_token().user


def token_required(view: Callable) -> Callable:
    """Refuse the request with a 401 unless it carries a valid, unexpired, unrevoked token."""

    @wraps(view)
    def with_token(*args, **kwargs):
        if current_token() is None:
            if bearer_secret() is None:
                raise unauthorized("This operation needs a bearer token: Authorization: Bearer <token>.")
            raise unauthorized("The bearer token is invalid, expired or revoked.", invalid_token=True)
        return view(*args, **kwargs)

    return with_token


def basic_auth_user() -> User:
    """Return the user whose HTTP Basic username and password this request carries, or raise the 401.

    The account service counts, limits and logs the attempt as it does the login form's (a 429 past the limits).
    """
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise password_refused("Send your username and password with HTTP Basic to get a token.")
    user = accounts.log_in(credentials.username or "", credentials.password or "")
    if user is None:
        raise password_refused("The username or password is wrong.")
    return user


def rate_limit_key() -> str:
    """Count requests per valid token; without one, per client address (the real one behind a trusted proxy)."""
    token = current_token()
    return f"token:{token.id}" if token else f"address:{get_remote_address()}"
