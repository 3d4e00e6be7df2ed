"""Accounts: register, read a profile, follow and unfollow."""

import sqlalchemy as sa
from flask import Blueprint, request, url_for
from sqlalchemy.exc import IntegrityError

from app.api.auth import current_api_user, token_required
from app.api.errors import ApiError
from app.api.openapi import BEARER, body_errors, json_body, no_content, responses, spec
from app.api.schemas import NewUser, UserLinks, UserOut
from app.extensions import db
from app.models import Post, User, commit_unless_taken

bp = Blueprint("users", __name__)
USERNAME_TAKEN = "This username is taken. Choose another one."
EMAIL_TAKEN = "An account with this email address already exists."
TAKEN = {"username": ("/username", USERNAME_TAKEN), "email": ("/email", EMAIL_TAKEN)}  # (JSON pointer, message)


def user_or_404(username: str) -> User:
    """Return the user named `username`; a name no account can have is not looked up at all."""
    user = User.by_username(username)
    if user is None:
        raise ApiError(404, "There is no user by that name.")
    return user


def user_out(user: User) -> UserOut:
    followers_count, following_count, _ = user.follow_counts(None)
    post_count = db.session.scalar(sa.select(sa.func.count(Post.id)).where(Post.user_id == user.id))
    return UserOut(
        username=user.username,
        about_me=user.about_me,
        last_seen=user.last_seen,
        post_count=post_count,
        followers_count=followers_count,
        following_count=following_count,
        links=UserLinks(
            self=url_for("api.users.get_user", username=user.username),
            posts=url_for("api.posts.user_posts", username=user.username),
            avatar=url_for("main.avatar", digest=user.avatar_digest),
        ),
    )


def taken_field(new_user: NewUser) -> tuple[str, str] | None:
    """Return (JSON pointer, message) for the username or email another account has, if any."""
    if User.by_username(new_user.username) is not None:
        return TAKEN["username"]
    if User.by_email(new_user.email) is not None:
        return TAKEN["email"]
    return None


def conflict(taken: tuple[str, str]) -> ApiError:
    pointer, message = taken
    return ApiError(409, message, {"errors": [{"pointer": pointer, "detail": message}]})


@bp.post("/users")
@json_body
@spec.validate(
    json=NewUser, resp=responses(body=True, errors=(409,), HTTP_201=UserOut), before=body_errors, tags=["users"]
)
def create_user():
    """Register an account. A taken username or email is a 409, also when two requests race for it."""
    new_user: NewUser = request.context.json
    taken = taken_field(new_user)
    if taken:
        raise conflict(taken)
    user = User(username=new_user.username, email=new_user.email, about_me=new_user.about_me)
    user.set_password(new_user.password)
    db.session.add(user)
    taken = commit_unless_taken(new_user.username, new_user.email)  # another request may have been quicker
    if taken:
        raise conflict(TAKEN[taken])
    return user_out(user), 201, {"Location": url_for("api.users.get_user", username=user.username)}


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
