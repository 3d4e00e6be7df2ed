"""Bearer tokens: get one with your password, revoke it when done."""

from flask import Blueprint

from app.api.auth import basic_auth_user, current_token, token_required
from app.api.openapi import BASIC, BEARER, no_content, responses, spec
from app.api.schemas import TokenOut
from app.auth import accounts
from app.auth.limits import login_attempts
from app.extensions import db

bp = Blueprint("tokens", __name__)


@bp.post("/tokens")
@login_attempts  # one counter with the login form: both check a password
@spec.validate(resp=responses(errors=(401,), HTTP_201=TokenOut), security=BASIC, tags=["tokens"])
def create_token():
    """Get a bearer token: HTTP Basic with your username and password. The token is shown only here.

    The same limits as the login form: failed attempts per account and per address, every attempt per address.
    """
    token, secret = accounts.issue_token(basic_auth_user())
    return TokenOut(token=secret, expires_at=token.expires_at), 201


@bp.delete("/tokens")
@token_required
@spec.validate(resp=responses(errors=(401,), HTTP_204=None), security=BEARER, tags=["tokens"])
def revoke_token():
    """Revoke the token this request carries; it stops working at once."""
    current_token().revoked = True
    db.session.commit()
    return no_content()
