"""Hardening: a real SECRET_KEY, the client address behind a proxy, security headers, no caching of what is
personal, and the rate limiter bound to the app (the limits sit on the views they guard)."""

from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import limiter
from config import PLACEHOLDER_SECRET_KEYS

MAKE_A_KEY = (
    "Make one with  python -c 'import secrets; print(secrets.token_hex(32))'  and set it as SECRET_KEY "
    "in the environment (or in .env)."
)
SECRET_KEY_MISSING = (
    "SECRET_KEY is missing, empty or a well-known placeholder, so sessions could be forged; refusing to start. "
    + MAKE_A_KEY
)
SECRET_KEY_MIN_LENGTH = 32  # token_hex(16); a shorter key can be guessed offline from one signed cookie
SECRET_KEY_TOO_SHORT = (
    f"SECRET_KEY is shorter than {SECRET_KEY_MIN_LENGTH} characters, so sessions could be forged; refusing to start. "
    f"Use a random key of at least {SECRET_KEY_MIN_LENGTH} characters. " + MAKE_A_KEY
)
PROXY_FIX_SETTINGS = {
    "x_for": "PROXY_FIX_X_FOR",
    "x_proto": "PROXY_FIX_X_PROTO",
    "x_host": "PROXY_FIX_X_HOST",
    "x_port": "PROXY_FIX_X_PORT",
    "x_prefix": "PROXY_FIX_X_PREFIX",
}


class InsecureConfigError(RuntimeError):
    """The settings would run the site with a known hole; the app refuses to start."""


def init_app(app: Flask) -> None:
    check_secret_key(app)
    trust_proxy(app)
    app.extensions["security_headers"] = security_headers(app)
    app.after_request(add_security_headers)
    app.after_request(keep_signed_in_pages_out_of_caches)
    app.after_request(retry_after_only_to_say_wait)  # registered before the limiter's: it runs after it
    app.session_interface = NoStoreSessionInterface()
    limiter.init_app(app)  # the limits themselves sit on the views they guard (app/auth/, app/api/)


def check_secret_key(app: Flask) -> None:
    """Refuse to start outside debug and testing without a SECRET_KEY of our own."""
    if app.debug or app.testing:
        return
    key = app.config.get("SECRET_KEY") or ""
    if isinstance(key, bytes):
        key = key.decode(errors="replace")
    if key.strip() in PLACEHOLDER_SECRET_KEYS:
        raise InsecureConfigError(SECRET_KEY_MISSING)
    if len(key.strip()) < SECRET_KEY_MIN_LENGTH:
        raise InsecureConfigError(SECRET_KEY_TOO_SHORT)


def trust_proxy(app: Flask) -> None:
    """Believe the X-Forwarded-* headers set by the configured number of proxies, and no others."""
    hops = {argument: app.config.get(setting, 0) for argument, setting in PROXY_FIX_SETTINGS.items()}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)


def content_security_policy(app: Flask) -> str:
    """Allow only this site's own scripts, styles and fonts; images also from data: URLs and Gravatar if used."""
    images = "'self' data:" + (" https://www.gravatar.com" if app.config.get("AVATAR_GRAVATAR") else "")
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": images,
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(app: Flask) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(app),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if app.config.get("SESSION_COOKIE_SECURE") and app.config.get("HSTS_SECONDS"):
        headers["Strict-Transport-Security"] = f"max-age={app.config['HSTS_SECONDS']}"
    return headers


def add_security_headers(response: Response) -> Response:
    """Add the security headers to every response, leaving any a view set itself."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # one pass: a setdefault per header scans them all
    headers.extend([(name, value) for name, value in current_app.extensions["security_headers"].items()
                    if name.lower() not in present])  # fmt: skip
    return response


def keep_signed_in_pages_out_of_caches(response: Response) -> Response:
    """Mark a page served to a signed-in user `no-store` (a shared cache or the back button could show it to
    the next person at the screen), unless the view chose its own caching (avatars, static files)."""
    user = g.get("_login_user")  # Flask-Login's loaded user: never load one here (a 5xx page must not)
    # A page that did not load the user (a 404, a 5xx) may still show the signed-in menu from the session.
    if "_user_id" in session or (user is not None and user.is_authenticated):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def retry_after_only_to_say_wait(response: Response) -> Response:
    """Drop Retry-After from any answer but a 429 or a 503: Flask-Limiter's headers (X-RateLimit-*, which
    the API documents) put it on every answer of a limited view, where it asks a client to wait for nothing."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


class NoStoreSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, never saved under /api/; and no cache may store a response that sets a cookie.

    The API carries no cookies: whatever touched the session while serving it (a template's CSRF token, say),
    its answer sets none. Checked here because the session cookie is set after every after_request function
    has run. The signing serializer is built once per key rather than twice a request: it holds nothing but
    the keys.
    """

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = app.extensions.get("session_serializer")
        if kept is None or kept[0] != keys:
            kept = app.extensions["session_serializer"] = (keys, super().get_signing_serializer(app))
        return kept[1]

    def save_session(self, app, session, response) -> None:
        if request.path.startswith("/api/"):
            return
        super().save_session(app, session, response)
        if "Set-Cookie" in response.headers:
            response.headers["Cache-Control"] = "no-store"
