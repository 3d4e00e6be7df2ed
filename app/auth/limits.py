"""The limits on accounts, the same at every door (the web forms and the API):

- failed logins, counted per account and address, per account, and per address; a wrong current
  password on the change-password form counts as a failed login too;
- every login attempt per address, whatever its outcome (each costs a password hash);
- registrations per address;
- mails to one account (reset links, registration notices).

Only failures count in the failure windows, so a right password is never what fills them; and a
stranger's failures behind an office's or a carrier's shared address fill the window of the accounts
they tried, not that of a colleague who types her own password (the per-address window, for one guess
at many accounts, is ten times wider). A browser that has logged in to an account carries a signed
device cookie for it (after OWASP's "device cookies"): for that account it is held only to the
account-and-address window, so neither a spray from its address nor guesses at its account from
elsewhere lock its owner out. The cookie is bound to the account's password and its login
generation, so it dies when the password changes or every login ends, and the failures made with it
are counted against it: past its own window it counts for nothing. Counters live in Flask-Limiter's
storage (memory, or Redis shared by every worker and host), through the `limits` package it is built on.
"""

import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Response, current_app, request
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from itsdangerous import BadData, URLSafeTimedSerializer
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from werkzeug.exceptions import TooManyRequests

from app.extensions import limiter
from app.models import User
from app.rules import USERNAME_MAX, username_key

log = logging.getLogger("app.security")
DEVICE_COOKIE = "login_device"
DEVICE_COOKIE_DAYS = 365
# When the shared storage (Redis) is down: count in this process rather than refuse or stop counting.
fallback = FixedWindowRateLimiter(MemoryStorage())
WINDOWS = (
    ("ACCOUNT_RATE_LIMIT", "this account from this address"),
    ("LOGIN_ACCOUNT_FAILURE_LIMIT", "this account"),
    ("LOGIN_ADDRESS_FAILURE_LIMIT", "this address"),
)


def log_refused_request(limit: RequestLimit) -> None:
    """on_breach for Flask-Limiter's limits: a 429 is worth a WARNING with the page and the address."""
    log.warning("Request refused (429) for %s %s from %s: limit %s", request.method, request.path,
                get_remote_address(), limit.limit)  # fmt: skip


def account_form_limit() -> str:
    """Return the limit on the account forms per client address (ACCOUNT_RATE_LIMIT).

    A breach raises 429 for the error pages to render; RATELIMIT_ENABLED off lets every request through.
    """
    return current_app.config["ACCOUNT_RATE_LIMIT"]


def login_attempt_limit() -> str:
    return current_app.config["LOGIN_ATTEMPT_LIMIT"]


# Each is one counter per address whichever door is used: the login form and POST /api/tokens wear the first,
# the registration form and POST /api/users the second.
login_attempts = limiter.shared_limit(login_attempt_limit, "login", methods=["POST"], on_breach=log_refused_request)
registrations = limiter.shared_limit(account_form_limit, "register", methods=["POST"], on_breach=log_refused_request)


class TooManyFailedLogins(TooManyRequests):
    """A 429 for an account or an address that has failed to log in too often: the site's pages offer a new
    password by mail beside it, a way in that needs no password (app/auth/routes.py); the API's answer is the same
    429 as any other."""


@dataclass(frozen=True)
class Device:
    """A browser that has logged in to an account before, as its device cookie says."""

    nonce: str  # this cookie's own name for the counters: failures made with it are counted against it


def windows(account: str, address: str) -> Iterator[tuple[RateLimitItem, tuple[str, ...], str]]:
    """Yield (limit, counter key, what it counts) for a login to `account` from `address`."""
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    key = username_key(account[:USERNAME_MAX])
    keys = {
        "ACCOUNT_RATE_LIMIT": (prefix, "login-failures", "account-address", key, address),
        "LOGIN_ACCOUNT_FAILURE_LIMIT": (prefix, "login-failures", "account", key),
        "LOGIN_ADDRESS_FAILURE_LIMIT": (prefix, "login-failures", "address", address),
    }
    for setting, counts in WINDOWS:
        for item in parse_many(current_app.config[setting]):
            yield item, keys[setting], counts


def device_windows(device: Device) -> Iterator[tuple[RateLimitItem, tuple[str, ...]]]:
    key = (current_app.config["RATELIMIT_KEY_PREFIX"], "login-failures", "device", device.nonce)
    for item in parse_many(current_app.config["LOGIN_DEVICE_FAILURE_LIMIT"]):
        yield item, key


def strategy() -> RateLimiter:
    return limiter.limiter


def enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED"))


def check_login_allowed(account: str, device: Device | None) -> None:
    """Raise 429 (with Retry-After) when `account` or this address has failed too often; log the refusal.

    `device`, the browser's valid device cookie for this account, lifts all but the account-and-address window.
    """
    if not enabled():
        return
    address = get_remote_address()
    for item, key, counts in windows(account, address):
        if device is not None and counts != WINDOWS[0][1]:
            continue
        allowed, reset_at = counter_state(item, key)
        if not allowed:
            log.warning(
                "Login refused (429) for account %r from %s: too many failed logins to %s (%s)",
                account, address, counts, item,
            )  # fmt: skip
            raise TooManyFailedLogins(
                "Too many failed logins. Wait a little, or reset your password.",
                retry_after=max(1, int(reset_at - time.time())),
            )


def record_failed_login(account: str, device: Device | None, why: str = "Failed login") -> None:
    """Log a failed login (account name and address, never the password) and count it in every window."""
    address = get_remote_address()
    log.warning("%s for account %r from %s", why, account, address)
    if not enabled():
        return
    counted = list(windows(account, address))
    if device is not None:
        counted += [(item, key, "this browser") for item, key in device_windows(device)]
    for item, key, _ in counted:
        try:
            strategy().hit(item, *key)
        except Exception:
            fallback.hit(item, *key)


def counter_state(item: RateLimitItem, key: tuple[str, ...]) -> tuple[bool, float]:
    """Return (under the limit?, when its window resets), from the shared storage or, if it fails, this process."""
    for counter in (strategy(), fallback):
        try:
            return counter.test(item, *key), counter.get_window_stats(item, *key).reset_time
        except Exception:
            log.warning("Login limits: the rate limit storage failed; counting in this process", exc_info=True)
    return True, time.time()


def account_mail_allowed(user_id: int) -> bool:
    """Count a mail to this account (a reset link, a registration notice); False past ACCOUNT_MAIL_LIMIT.

    A stranger who types someone's address again and again fills this window, not their inbox.
    """
    if not enabled():
        return True
    key = (current_app.config["RATELIMIT_KEY_PREFIX"], "account-mail", str(user_id))
    allowed = True
    for item in parse_many(current_app.config["ACCOUNT_MAIL_LIMIT"]):
        try:
            allowed = strategy().hit(item, *key) and allowed
        except Exception:
            allowed = fallback.hit(item, *key) and allowed
    if not allowed:
        log.warning("Mail to user %s not sent: over the limit of %s", user_id, current_app.config["ACCOUNT_MAIL_LIMIT"])
    return allowed


def device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def device_claims(user: User) -> list:
    """What a device cookie is bound to: the account, its password and its login generation."""
    return [username_key(user.username), user.password_fingerprint, user.login_generation]


def remember_device(response: Response, user: User) -> None:
    """Mark this browser as one that logged in to `user` (signed; it proves a past login, and logs no one in)."""
    config = current_app.config
    response.set_cookie(
        DEVICE_COOKIE,
        device_serializer().dumps([*device_claims(user), secrets.token_urlsafe(12)]),
        max_age=DEVICE_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=bool(config.get("SESSION_COOKIE_SECURE")),
    )


def known_device(user: User | None) -> Device | None:
    """Return this browser's device for `user`: a valid cookie given under the account's present password and
    login generation, whose own failures are within their window; else None."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie or user is None:
        return None
    try:
        claims = device_serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400)
    except BadData:
        return None
    if not isinstance(claims, list) or len(claims) != 4 or claims[:3] != device_claims(user):
        return None
    device = Device(str(claims[3]))
    if enabled() and not all(counter_state(item, key)[0] for item, key in device_windows(device)):
        return None  # it has failed too often: it is a browser like any other now
    return device
