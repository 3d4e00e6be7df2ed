"""Bearer tokens: get one with your password, revoke it when done."""

from flask import Blueprint, current_app

from app.api.auth import basic_auth_user, current_token, token_required
from app.api.openapi import BASIC, BEARER, no_content, responses, spec
from app.api.schemas import TokenOut
from app.auth.limits import account_form_limit
from app.extensions import db, limiter
from app.models import Token

bp = Blueprint("tokens", __name__)


@bp.post("/tokens")
@limiter.limit(account_form_limit)  # it checks a password, like the login form
@spec.validate(resp=responses(errors=(401,), HTTP_201=TokenOut), security=BASIC, tags=["tokens"])
def create_token():
    """Get a bearer token: HTTP Basic with your username and password. The token is shown only here."""
    user = basic_auth_user()
    token, secret = Token.issue(user, current_app.config["API_TOKEN_TTL"])
    db.session.add(token)
    db.session.commit()
    return TokenOut(token=secret, expires_at=token.expires_at), 201


@bp.delete("/tokens")
@token_required
@spec.validate(resp=responses(errors=(401,), HTTP_204=None), security=BEARER, tags=["tokens"])
def revoke_token():
    """Revoke the token this request carries; it stops working at once."""
    current_token().revoked = True
    db.session.commit()
    return no_content()
