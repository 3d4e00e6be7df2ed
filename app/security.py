"""Hardening: a real SECRET_KEY, the site's own address and the host names it answers to, the client address
behind a proxy, security headers, no caching of what is personal, and the rate limiter bound to the app (the
limits sit on the views they guard)."""

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request, session
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import limiter
from app.templating import site_url_adapter
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
SITE_URL_MISSING = (
    "MAIL_SERVER is set but SITE_URL is not, so the links the site mails (password resets, welcomes) would name "
    "whatever Host a client sends; refusing to start. Set SITE_URL to the site's address as its users know it, "
    "such as https://microblog.example.org."
)
# Where the site may run without SITE_URL, its links then built on the request's host (`flask run` on a laptop);
# compared exactly, as DEMO_ERRORS's are (app/errors/demo.py): a misspelt MICROBLOG_ENV is production.
DEVELOPMENT_ENVIRONMENTS = ("development", "test")
PROXY_FIX_SETTINGS = {
    "x_for": "PROXY_FIX_X_FOR",
    "x_proto": "PROXY_FIX_X_PROTO",
    "x_host": "PROXY_FIX_X_HOST",
    "x_port": "PROXY_FIX_X_PORT",
    "x_prefix": "PROXY_FIX_X_PREFIX",
}


class InsecureConfigError(RuntimeError):
    """The settings would run the site with a known hole; the app refuses to start."""


class HostNotServed(SecurityError):
    """A request for a host name the site does not answer to (TRUSTED_HOSTS): a 400 in the error page's words."""

    description = (
        "This site does not answer to the name in the address you used, so nothing was done. "
        "Check the address, or open the site from a link you trust."
    )


def init_app(app: Flask) -> None:
    check_secret_key(app)
    check_site_url(app)
    trust_proxy(app)
    trust_hosts(app)
    app.extensions["security_headers"] = security_headers(app)
    app.after_request(add_security_headers)
    app.after_request(keep_signed_in_pages_out_of_caches)
    app.after_request(retry_after_only_to_say_wait)  # registered before the limiter's: it runs after it
    app.session_interface = NoStoreSessionInterface()
    limiter.init_app(app)  # the limits themselves sit on the views they guard (app/auth/, app/api/)


def secret_key_weakness(key: str | bytes | None) -> str | None:
    """Say what is wrong with a SECRET_KEY: "missing", "placeholder" or "short"; None for a key of our own.

    The one rule for the key: the app refuses to start on it (below), `flask check --deploy` names it.
    """
    if isinstance(key, bytes):
        key = key.decode(errors="replace")
    key = (key or "").strip()
    if not key:
        return "missing"
    if key in PLACEHOLDER_SECRET_KEYS:
        return "placeholder"
    return "short" if len(key) < SECRET_KEY_MIN_LENGTH else None


def check_secret_key(app: Flask) -> None:
    """Refuse to start outside debug and testing without a SECRET_KEY of our own."""
    if app.debug or app.testing:
        return
    weakness = secret_key_weakness(app.config.get("SECRET_KEY"))
    if weakness:
        raise InsecureConfigError(SECRET_KEY_TOO_SHORT if weakness == "short" else SECRET_KEY_MISSING)


def check_site_url(app: Flask) -> None:
    """Refuse a SITE_URL that is not an address; and, outside development, mail without SITE_URL to link to."""
    site_url = app.config.get("SITE_URL") or ""
    parts = urlsplit(site_url)
    if site_url and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise RuntimeError(
            f"SITE_URL={site_url!r} is not an address: give its scheme and host, such as https://microblog.example.org."
        )
    development = app.debug or app.testing or app.config.get("ENV_NAME") in DEVELOPMENT_ENVIRONMENTS
    if app.config.get("MAIL_SERVER") and not site_url and not development:
        raise InsecureConfigError(SITE_URL_MISSING)


def trust_hosts(app: Flask) -> None:
    """Answer only requests for SITE_URL's host and the extra names of TRUSTED_HOSTS (Flask's setting, here
    derived: any other Host is a 400); with neither, any host (development).

    The links the site sends never come from the Host (app/templating.py's site_url_for); this check is the
    second guard, for whatever else reads it. Loopback is not added: a health check straight to gunicorn names
    the site, or 127.0.0.1 is listed in TRUSTED_HOSTS (docs/deployment.md).
    """
    site_host = urlsplit(app.config.get("SITE_URL") or "").hostname
    names = [site_host] if site_host else []
    names += [name for name in app.config.get("TRUSTED_HOSTS") or () if name not in names]
    app.config["TRUSTED_HOSTS"] = names or None
    if names:
        app.url_value_preprocessor(answer_a_refused_host)


def answer_a_refused_host(endpoint: str | None, values: dict | None) -> None:
    """Answer a request for a host the site does not serve with the site's own 400, before any other hook.

    Flask refuses such a Host while it binds the request's routes, so the request has none: the page's links
    are built on the site's own address instead (relative links look the same). A URL value preprocessor runs
    before every before_request function, any of which (the CSRF check, planned downtime) would read the
    refused host and fail first.
    """
    error = request.routing_exception
    if not isinstance(error, SecurityError):
        return
    current_app.logger.info("Refused a request for a host not served (TRUSTED_HOSTS): %s", error.description)
    request_ctx.url_adapter = site_url_adapter(current_app) or current_app.url_map.bind(
        current_app.config["TRUSTED_HOSTS"][0].lstrip("."), script_name=request.script_root or "/",
        url_scheme=request.scheme,
    )  # fmt: skip
    raise HostNotServed() from error


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
