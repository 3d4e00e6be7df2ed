"""Accounts: register, read a profile, change your own, follow and unfollow."""

import sqlalchemy as sa
from flask import Blueprint, request, url_for
from sqlalchemy.exc import IntegrityError

from app.api.auth import current_api_user, token_required
from app.api.errors import ApiError
from app.api.openapi import BEARER, body_errors, json_body, no_content, responses, spec
from app.api.schemas import NewUser, ProfileChange, Registration, RegistrationLinks, UserLinks, UserOut
from app.auth import accounts
from app.auth.limits import registrations
from app.extensions import db
from app.models import Post, User
from app.rules import USERNAME_TAKEN

bp = Blueprint("users", __name__)
# The registration form's answer: the same whether the address was free or taken (its owner gets a mail).
REGISTERED = (
    "Welcome to Microblog! If this address had no account, yours is ready: get a token with your username and "
    "password. Either way a mail is on its way to the address."
)


def user_or_404(username: str) -> User:
    """Return the user named `username`; a name no account can have is not looked up at all."""
    user = User.by_username(username)
    if user is None:
        raise ApiError(404, "There is no user by that name.")
    return user


def user_out(user: User) -> UserOut:
    post_count = db.session.scalar(sa.select(sa.func.count(Post.id)).where(Post.user_id == user.id))
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        about_me=user.about_me,
        last_seen=user.last_seen,
        post_count=post_count,
        followers_count=user.followers_count,
        following_count=user.following_count,
        links=UserLinks(
            self=url_for("api.users.get_user", username=user.username),
            posts=url_for("api.posts.user_posts", username=user.username),
            avatar=url_for("main.avatar", digest=user.avatar_digest),
        ),
    )


@bp.post("/users")
@registrations  # one counter with the registration form
@json_body
@spec.validate(
    json=NewUser, resp=responses(body=True, errors=(409,), HTTP_202=Registration), before=body_errors, tags=["users"]
)
def create_user():
    """Register an account, as the registration form does.

    The answer is the same whether the address was free or already had an account (whose owner then gets a mail
    instead), so the API tells no one which addresses have accounts. A taken username is a 409: names are public.
    """
    new_user: NewUser = request.context.json
    try:
        accounts.register(new_user.username, new_user.email, new_user.password, new_user.about_me)
    except accounts.NameTaken:
        raise ApiError(409, USERNAME_TAKEN, {"errors": [{"pointer": "/username", "detail": USERNAME_TAKEN}]}) from None
    return Registration(detail=REGISTERED, links=RegistrationLinks(token=url_for("api.tokens.create_token"))), 202


@bp.patch("/users/me")
@token_required
@json_body
@spec.validate(
    json=ProfileChange, resp=responses(body=True, errors=(401,), HTTP_200=UserOut), before=body_errors,
    security=BEARER, tags=["users"],
)  # fmt: skip
def change_profile():
    """Change your display name or "about me" (the fields you send; null clears one)."""
    me, change = current_api_user(), request.context.json
    for name in change.model_fields_set:
        setattr(me, name, getattr(change, name))
    db.session.commit()
    return user_out(me)


@bp.get("/users/<username>")
@spec.validate(resp=responses(errors=(404,), HTTP_200=UserOut), tags=["users"])
def get_user(username: str):
    """Read a profile with its post, follower and following counts."""
    return user_out(user_or_404(username))


@bp.put("/following/<username>")
@token_required
@spec.validate(resp=responses(errors=(401, 403, 404), HTTP_204=None), security=BEARER, tags=["users"])
def follow(username: str):
    """Follow a user. Following someone you already follow changes nothing (still 204)."""
    me, person = current_api_user(), user_or_404(username)
    if person.id == me.id:
        raise ApiError(403, "You cannot follow yourself.")
    me.follow(person)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # a concurrent request made the same follow: the outcome is the same
    return no_content()


@bp.delete("/following/<username>")
@token_required
@spec.validate(resp=responses(errors=(401, 404), HTTP_204=None), security=BEARER, tags=["users"])
def unfollow(username: str):
    """Stop following a user. Unfollowing someone you do not follow changes nothing (still 204)."""
    current_api_user().unfollow(user_or_404(username))
    db.session.commit()
    return no_content()
