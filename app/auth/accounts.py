"""The account service: registration, logins, password change and reset, and logging out everywhere.

Every door goes through here: the web views (app/auth/routes.py) and the API (app/api/) only translate
HTTP to these calls and back, so a limit, a log line or a mail is the same whichever door is used. The
input rules themselves are app/rules.py (the forms and the API's schemas check them first, to answer
field by field); the limits are app/auth/limits.py.
"""

import hmac
import logging

import sqlalchemy as sa
from flask import current_app, g, session
from flask_limiter.util import get_remote_address
from flask_login import login_user, logout_user
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadData, URLSafeTimedSerializer

from app.auth import mail
from app.auth.limits import account_mail_allowed, check_login_allowed, known_device, record_failed_login
from app.errors.session_menu import keep_display_name_of
from app.extensions import db
from app.models import LoginSession, Token, User, commit_unless_taken, hash_password, password_of, username_is_taken
from app.templating import site_url_for

log = logging.getLogger("app.security")
RESET_SALT = "password-reset"


class NameTaken(Exception):
    """Another account has this username (in any letter case); names are public, so the door may say so."""


def log_in(account: str, password: str | None) -> User | None:
    """Return the user whose name and password these are, or None if they are wrong.

    Refused with 429 while the account or this address has failed too often; a failure is counted in every
    window and logged with the account and the address, never the password. A password that could not be
    read (None: an empty form) is a failure too, without a hash to check.
    """
    user = User.by_username(account) if password is not None else None
    device = known_device(user)
    check_login_allowed(account, device)
    person = password_of(user, password) if password is not None else None
    if person is None:
        record_failed_login(account, device)
    return person


def login_lifetime() -> int:
    """Return how long a login lives, in seconds: as long as the remember cookie."""
    return int(current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds())


def start_login(user: User, remember: bool) -> None:
    """Log `user` in on a fresh session: nothing from before the login survives it, and the cookies are new.

    The session is settled here, whole: the name the menu shows and the plain forms' CSRF token are written
    now rather than by the first page, so the pages after a login set no cookie. A client that keeps the
    login's cookie as it was would otherwise be sent a new one, signed, with every page.
    """
    session.clear()
    user.session_id = LoginSession.start(user, login_lifetime(), current_app.config["LIVE_LOGINS_PER_ACCOUNT"])
    db.session.commit()
    login_user(user, remember=remember)
    keep_display_name_of(user)
    # Flask-WTF keeps the request's token in g, made from the session just cleared: drop it to make a new one.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    generate_csrf()


def issue_token(user: User) -> tuple[Token, str]:
    """Give `user` an API token (the oldest past LIVE_LOGINS_PER_ACCOUNT end); return it and its secret."""
    config = current_app.config
    token, secret = Token.issue(user, config["API_TOKEN_TTL"], config["LIVE_LOGINS_PER_ACCOUNT"])
    db.session.add(token)
    db.session.commit()
    return token, secret


def end_login(user: User | None) -> None:
    """End this login: its row, so the old session and remember cookies no longer log in, then the session."""
    if user is not None and user.session_id:
        LoginSession.end(user.session_id)
        db.session.commit()
    session.clear()
    logout_user()


def end_every_login(user: User, keep_this_one: bool = False) -> None:
    """End the user's logins everywhere (all but this one if asked), revoke their API tokens, and make every
    device cookie given so far worth nothing."""
    LoginSession.end_all(user, keep=user.session_id if keep_this_one else None)
    db.session.execute(sa.update(Token).where(Token.user_id == user.id).values(revoked=True))
    user.login_generation += 1


def log_out_everywhere(user: User) -> None:
    """End every login of `user`, on every browser and device, and revoke their API tokens."""
    end_every_login(user)
    db.session.commit()
    log.info("Every login of user %s ended at their request, from %s", user.id, get_remote_address())


def register(username: str, email: str, password: str, about_me: str | None = None) -> User | None:
    """Create an account, or mail the owner of a taken address; return the new user, or None for a taken address.

    Both answer alike to the one who asked (the same time, the same words), so no door tells a stranger
    which addresses have accounts. Raises NameTaken when another account has the name.
    """
    if username_is_taken(username):
        raise NameTaken(username)
    owner = User.by_email(email)
    if owner is None:
        person = User(username=username, email=email, about_me=about_me)
        person.set_password(password)
        db.session.add(person)
        taken = commit_unless_taken(username, email)  # another request may have been quicker
        if taken == "username":
            raise NameTaken(username)
        owner = User.by_email(email) if taken == "email" else None
    else:
        hash_password(password)  # the work a new account costs, so both answers take as long
    if owner is not None:
        send_registration_taken_mail(owner)
        return None
    send_welcome_mail(person)
    return person


def change_password(user: User, current: str, new: str) -> bool:
    """Set a new password if `current` is the user's; every other login of theirs ends. False if it is wrong.

    A wrong current password is a failed login (counted and logged): whoever holds an open session must not
    be able to guess the password that protects the account's other sessions and its reset.
    """
    device = known_device(user)
    check_login_allowed(user.username, device)
    if password_of(user, current) is None:
        record_failed_login(user.username, device, why="Wrong current password")
        return False
    user.set_password(new)
    end_every_login(user, keep_this_one=True)
    db.session.commit()
    return True


def request_password_reset(email: str) -> None:
    """Mail a reset link to the account with this address, if there is one (the caller says the same either way)."""
    user = User.by_email(email)
    if user is None or not account_mail_allowed(user.id):
        return
    link = site_url_for("auth.reset_password", token=reset_token(user))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    mail.send_mail(user.email, "Choose a new Microblog password", "reset_password",
                   about=f"password reset for user {user.id}", user=user, link=link, minutes=minutes)  # fmt: skip


def reset_password(user: User, new: str) -> None:
    """Set the password a reset link was for; the link dies with the old password, and every login ends."""
    user.set_password(new)
    end_every_login(user)
    db.session.commit()


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


def can_send_mail() -> bool:
    """Tell whether a mail queued now will be sent (a reset request asks before it looks the address up)."""
    return mail.can_send()


def send_welcome_mail(user: User) -> None:
    if mail.can_send():
        mail.send_mail(user.email, "Welcome to Microblog", "welcome", about=f"welcome for user {user.id}",
                       user=user, login=site_url_for("auth.login"))  # fmt: skip


def send_registration_taken_mail(owner: User) -> None:
    """Tell the owner of an address that someone tried to register with it, with the way to a new password."""
    if mail.can_send() and account_mail_allowed(owner.id):
        mail.send_mail(owner.email, "Someone tried to register with your address", "registration_taken",
                       about=f"registration attempt for user {owner.id}", user=owner,
                       reset=site_url_for("auth.reset_password_request"))  # fmt: skip
