"""Limits on failed logins, counted per account and address, per account, and per address; on account mails;
and the per-address limit on the account forms.

Only failures count, so a right password is never what fills a window; and a stranger's failures
behind an office's or a carrier's shared address fill the window of the accounts they tried, not
that of a colleague who types her own password (the per-address window, for one guess at many
accounts, is ten times wider). A browser that has logged in to an account before carries a signed
device cookie for it (after OWASP's "device cookies"): for that account it is held only to the
account-and-address window, so neither a spray from its address nor guesses at its account from
elsewhere lock its owner out. Counters live in Flask-Limiter's storage (memory, or Redis shared by
every worker and host), through the `limits` package it is built on.
"""

import logging
import time
from collections.abc import Iterator

from flask import Response, current_app, request
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from itsdangerous import BadData, URLSafeTimedSerializer
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from werkzeug.exceptions import TooManyRequests

from app.extensions import limiter
from app.models import USERNAME_MAX, username_key

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


def strategy() -> RateLimiter:
    return limiter.limiter


def enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED"))


def check_login_allowed(account: str) -> None:
    """Raise 429 (with Retry-After) when `account` or this address has failed too often; log the refusal."""
    if not enabled():
        return
    address = get_remote_address()
    known_device = is_known_device(account)
    for item, key, counts in windows(account, address):
        if known_device and counts != WINDOWS[0][1]:
            continue
        allowed, reset_at = counter_state(item, key)
        if not allowed:
            log.warning(
                "Login refused (429) for account %r from %s: too many failed logins to %s (%s)",
                account, address, counts, item,
            )  # fmt: skip
            raise TooManyRequests(
                "Too many failed logins. Wait a little, or reset your password.",
                retry_after=max(1, int(reset_at - time.time())),
            )


def record_failed_login(account: str) -> None:
    """Log a failed login (account name and address, never the password) and count it in every window."""
    address = get_remote_address()
    log.warning("Failed login for account %r from %s", account, address)
    if enabled():
        for item, key, _ in windows(account, address):
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


def log_refused_request(limit: RequestLimit) -> None:
    """on_breach for Flask-Limiter's limits: a 429 is worth a WARNING with the page and the address."""
    log.warning("Request refused (429) for %s %s from %s: limit %s", request.method, request.path,
                get_remote_address(), limit.limit)  # fmt: skip


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


def remember_device(response: Response, username: str) -> None:
    """Mark this browser as one that logged in to `username` (signed; it proves a past login, and logs no one in)."""
    config = current_app.config
    response.set_cookie(
        DEVICE_COOKIE,
        device_serializer().dumps(username_key(username)),
        max_age=DEVICE_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=bool(config.get("SESSION_COOKIE_SECURE")),
    )


def is_known_device(account: str) -> bool:
    """Tell whether this browser has logged in to `account` before (a valid device cookie for it)."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return False
    try:
        key = device_serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400)
    except BadData:
        return False
    return key == username_key(account[:USERNAME_MAX])


def account_form_limit() -> str:
    """Return the limit on account forms and token requests per client address (ACCOUNT_RATE_LIMIT).

    A breach raises 429 for the error pages to render; RATELIMIT_ENABLED off lets every request through.
    """
    return current_app.config["ACCOUNT_RATE_LIMIT"]
