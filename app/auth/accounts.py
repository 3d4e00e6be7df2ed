"""What the account views do besides forms: start and end logins, reset tokens, the account mails."""

import hmac

import sqlalchemy as sa
from flask import current_app, session
from flask_login import login_user, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer

from app.auth import mail
from app.auth.limits import account_mail_allowed
from app.extensions import db
from app.models import LoginSession, Token, User
from app.templating import site_url_for

RESET_SALT = "password-reset"


def login_lifetime() -> int:
    """Return how long a login lives, in seconds: as long as the remember cookie."""
    return int(current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds())


def start_login(user: User, remember: bool) -> None:
    """Log `user` in on a fresh session: nothing from before the login survives it, and the cookies are new."""
    session.clear()
    user.session_id = LoginSession.start(user, login_lifetime())
    db.session.commit()
    login_user(user, remember=remember)


def end_login(user: User | None) -> None:
    """End this login: its row, so the old session and remember cookies no longer log in, then the session."""
    if user is not None and user.session_id:
        LoginSession.end(user.session_id)
        db.session.commit()
    session.clear()
    logout_user()


def end_every_login(user: User, keep_this_one: bool = False) -> None:
    """End the user's logins everywhere (all but this one if asked) and revoke their API tokens."""
    LoginSession.end_all(user, keep=user.session_id if keep_this_one else None)
    db.session.execute(sa.update(Token).where(Token.user_id == user.id).values(revoked=True))


def reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def reset_token(user: User) -> str:
    """Return a signed, timestamped token naming the user and their current password hash (so it works once)."""
    return reset_serializer().dumps({"user": user.id, "password": user.password_fingerprint})


def user_of_reset_token(token: str) -> User | None:
    """Return the user a reset token is for, if it is genuine, not expired, and their password is unchanged."""
    try:
        claims = reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except BadData:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("user"), int):
        return None
    user = db.session.get(User, claims["user"])
    if user is None or not hmac.compare_digest(user.password_fingerprint, str(claims.get("password"))):
        return None
    return user


def send_reset_mail(user: User) -> None:
    if not account_mail_allowed(user.id):
        return
    link = site_url_for("auth.reset_password", token=reset_token(user))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    mail.send_mail(user.email, "Choose a new Microblog password", "reset_password",
                   about=f"password reset for user {user.id}", user=user, link=link, minutes=minutes)  # fmt: skip


def send_registration_mail(email: str, new_user: User | None, owner: User | None) -> None:
    """Mail the address: a welcome to a new account, or a word to the owner that someone tried to take it."""
    if not mail.can_send():
        return
    if owner is not None:
        if not account_mail_allowed(owner.id):
            return
        reset = site_url_for("auth.reset_password_request")
        mail.send_mail(email, "Someone tried to register with your address", "registration_taken",
                       about=f"registration attempt for user {owner.id}", user=owner, reset=reset)  # fmt: skip
    elif new_user is not None:
        login = site_url_for("auth.login")
        mail.send_mail(email, "Welcome to Microblog", "welcome", about=f"welcome for user {new_user.id}",
                       user=new_user, login=login)  # fmt: skip
