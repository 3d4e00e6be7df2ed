"""Settings read from the environment (a `.env` file is loaded through python-dotenv)."""

import ipaddress
import os
import re
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")

# SECRET_KEY values that are known to the world and must never run in production (the last two are the committed
# examples', .env.example's and deploy/microblog.env.example's).
PLACEHOLDER_SECRET_KEYS = frozenset(
    {"", "change-me", "changeme", "secret", "dev", "replace-me-with-make-run", "replace-me-with-a-generated-key"}
)


def env_bool(name: str, default: bool = False) -> bool:
    """Read a yes/no setting: 1, true, yes and on (any case) mean yes."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Read a whole-number setting, falling back to the default when unset or empty."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_seconds(name: str) -> float | None:
    """Read a duration in seconds (fractions allowed); None when unset or empty."""
    value = os.environ.get(name, "").strip()
    return float(value) if value else None


def env_list(name: str) -> list[str]:
    """Read a comma-separated setting into a list of non-empty items."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def database_url(value: str | None, default: str) -> str:
    """Return a SQLAlchemy URL, mapping Heroku-style postgres:// URLs to the psycopg 3 driver."""
    if not value:
        return default
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value


class Config:
    """Production-ready defaults, each overridable from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    # A relative SQLite path lives in the instance folder (Flask-SQLAlchemy resolves it there).
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"), "sqlite:///microblog.db")
    # hide_parameters: a statement's values (emails, password hashes) never enter an exception's text.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    SQLITE_CREATE_FILE = False  # the running app never creates a database file; `flask db upgrade` does
    RETRY_AFTER = env_int("RETRY_AFTER", 5)  # the Retry-After of a 503: a busy database, a request past its deadline
    POSTS_PER_PAGE = env_int("POSTS_PER_PAGE", 25)
    RENDERED_LISTS_KEPT = env_int("RENDERED_LISTS_KEPT", 256)  # rendered lists of posts kept per worker (~12 KB each)
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
    AVATAR_GRAVATAR = env_bool("AVATAR_GRAVATAR")
    BOOTSTRAP_SERVE_LOCAL = True
    LAST_SEEN_INTERVAL = env_int("LAST_SEEN_INTERVAL", 60)
    # scrypt with N=2^13 (8 MiB a check), r=8, p=10: one of OWASP's equivalents of its minimum for scrypt
    # (N=2^17, r=8, p=1). Werkzeug's default, N=2^15 and p=1, does a quarter of that work and takes 32 MiB
    # a check, which a worker then keeps: a third of its memory. A login with a hash made
    # another way rehashes the password with this one.
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD") or "scrypt:8192:8:10"
    # "production" refuses development switches such as DEMO_ERRORS.
    ENV_NAME = os.environ.get("MICROBLOG_ENV", "development")
    DEMO_ERRORS = env_bool("DEMO_ERRORS")

    # Logging and alerts: on when not in debug; in tests only with LOG_IN_TESTS.
    LOG_IN_TESTS = env_bool("LOG_IN_TESTS")
    LOG_DIR = os.environ.get("LOG_DIR") or str(BASE_DIR / "logs")
    LOG_MAX_BYTES = env_int("LOG_MAX_BYTES", 10 * 1024 * 1024)
    LOG_BACKUP_COUNT = env_int("LOG_BACKUP_COUNT", 20)
    LOG_TO_STDOUT = env_bool("LOG_TO_STDOUT")
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    LOG_ALL_TRACEBACKS = env_bool("LOG_ALL_TRACEBACKS")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS")
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 10)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "")
    ALERTS_SENDER = os.environ.get("ALERTS_SENDER", "")
    ADMINS = env_list("ADMINS")
    # The site's address as its users know it (https://microblog.example.org): every absolute link the site sends
    # (account mails, problem types, alert mails) is built on it, never on the client's Host header. Required
    # with MAIL_SERVER outside development; unset, links name the request's host (alert mails give the path).
    SITE_URL = os.environ.get("SITE_URL", "").strip()
    # Host names answered besides SITE_URL's (a load balancer's health check by IP); app/security.py makes
    # Flask's TRUSTED_HOSTS of SITE_URL's host and these, so a request for any other host is a 400.
    TRUSTED_HOSTS = env_list("TRUSTED_HOSTS")
    # On: alert mails show email addresses, the client's address and the user agent as sent (off: masked,
    # the client's network and the browser's name kept). The log keeps them for the operator either way.
    ALERT_PERSONAL_DATA = env_bool("ALERT_PERSONAL_DATA")
    ALERT_WINDOW = env_int("ALERT_WINDOW", 600)
    ALERTS_PER_HOUR = env_int("ALERTS_PER_HOUR", 30)
    ALERT_QUEUE_SIZE = env_int("ALERT_QUEUE_SIZE", 1000)
    ALERT_STATE_URL = os.environ.get("ALERT_STATE_URL", "")  # redis://...; empty: SHARED_STORE_URL, else a SQLite file
    ALERT_STATE_PATH = os.environ.get("ALERT_STATE_PATH", "")  # empty: instance/alert-state.sqlite3
    ALERT_STATE_PREFIX = os.environ.get("ALERT_STATE_PREFIX", "")  # empty: SHARED_STORE_PREFIX + "alerts:"
    # The operator's side: the release faults are seen in (empty: app/version.py), where gunicorn
    # writes its access log when not to stdout (read by `flask errors find`), and the 500 page's feedback form.
    RELEASE = os.environ.get("RELEASE", "")
    ACCESS_LOG = os.environ.get("ACCESS_LOG", "")
    FEEDBACK_RATE_LIMIT = os.environ.get("FEEDBACK_RATE_LIMIT") or "5 per minute;30 per hour"
    SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
    SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT") or ENV_NAME

    # Many hosts, one site. SHARED_STORE_URL (redis://...) holds what every host must agree on: the alert state and
    # the fault list, the rate limits (ALERT_STATE_URL and RATELIMIT_STORAGE_URI default to it, each may be set on
    # its own), the maintenance window and the records of failed requests. Empty: each host keeps its own, in
    # files, which is right for one host. HOSTS names the deployment's hosts when there are several; HOST_NAME
    # is this one's, in every log record, alert mail and stored failure.
    SHARED_STORE_URL = os.environ.get("SHARED_STORE_URL", "").strip()
    SHARED_STORE_PREFIX = os.environ.get("SHARED_STORE_PREFIX") or "microblog:"
    HOSTS = env_list("HOSTS")
    HOST_NAME = re.sub(r"[^\w.-]", "-", os.environ.get("HOST_NAME", "").strip() or socket.gethostname())

    # Error pages and planned downtime: the address people may write to (shown when set), the
    # maintenance switch's file (empty: instance/maintenance.json) and the addresses that pass it.
    CONTACT_EMAIL = os.environ.get("CONTACT_EMAIL", "")
    MAINTENANCE_FILE = os.environ.get("MAINTENANCE_FILE", "")
    MAINTENANCE_BYPASS_ADDRESSES = env_list("MAINTENANCE_BYPASS_ADDRESSES")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE")
    # Two weeks, not Flask-Login's year: a login ends at logout, but a cookie taken from a browser that never
    # logs out is good until this runs out (the server refuses the login past it too); someone who comes back
    # at least every other week stays logged in. Not renewed on each request, so the bound is absolute.
    REMEMBER_COOKIE_DURATION = timedelta(days=env_int("REMEMBER_COOKIE_DAYS", 14))
    PASSWORD_RESET_MAX_AGE = env_int("PASSWORD_RESET_MAX_AGE", 3600)  # seconds a reset link works (once)
    ACCOUNT_MAIL_QUEUE_SIZE = env_int("ACCOUNT_MAIL_QUEUE_SIZE", 100)  # reset and registration mails waiting

    # Behind a proxy, and limits on what one client can ask
    # How many proxies in front of the app set each X-Forwarded-* header; 0 trusts none (a forged one is ignored).
    PROXY_FIX_X_FOR = env_int("PROXY_FIX_X_FOR", 0)
    PROXY_FIX_X_PROTO = env_int("PROXY_FIX_X_PROTO", 0)
    PROXY_FIX_X_HOST = env_int("PROXY_FIX_X_HOST", 0)
    PROXY_FIX_X_PORT = env_int("PROXY_FIX_X_PORT", 0)
    PROXY_FIX_X_PREFIX = env_int("PROXY_FIX_X_PREFIX", 0)
    # Registrations per client address (the form and POST /api/users together), the other account forms, and failed
    # logins to one account from one address; shared across workers and hosts only with Redis.
    ACCOUNT_RATE_LIMIT = os.environ.get("ACCOUNT_RATE_LIMIT") or "10 per minute;100 per hour"
    # Failed logins to one account from every address (a guesser with many addresses), and from one address to
    # every account (one guess at many accounts). Only failures count: a right password is never what fills them.
    LOGIN_ACCOUNT_FAILURE_LIMIT = os.environ.get("LOGIN_ACCOUNT_FAILURE_LIMIT") or "20 per 10 minutes;100 per day"
    LOGIN_ADDRESS_FAILURE_LIMIT = os.environ.get("LOGIN_ADDRESS_FAILURE_LIMIT") or "100 per 10 minutes;1000 per day"
    # Every login from one address, whatever its outcome (the form and POST /api/tokens together): each checks a
    # password hash, about 0.1 s of CPU, so a flood of right passwords is bounded too. An office behind one address
    # logs in ten people in ten seconds.
    LOGIN_ATTEMPT_LIMIT = os.environ.get("LOGIN_ATTEMPT_LIMIT") or "10 per 10 seconds;200 per hour"
    # Failed logins made with one browser's device cookie, past which the cookie lifts no limit (a stolen one).
    LOGIN_DEVICE_FAILURE_LIMIT = os.environ.get("LOGIN_DEVICE_FAILURE_LIMIT") or "10 per hour"
    # Logins (browsers) and API tokens an account keeps at once, each; a new one past it ends the oldest.
    LIVE_LOGINS_PER_ACCOUNT = env_int("LIVE_LOGINS_PER_ACCOUNT", 20)
    # Reset links and registration notices mailed to one account, whoever asks.
    ACCOUNT_MAIL_LIMIT = os.environ.get("ACCOUNT_MAIL_LIMIT") or "5 per hour;20 per day"
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "")  # empty: SHARED_STORE_URL, else memory://
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True  # Redis down: limit per worker rather than fail the login
    RATELIMIT_HEADERS_ENABLED = True  # Retry-After on the 429 page
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "")  # empty: SHARED_STORE_PREFIX, without its ":"
    HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000)  # sent only when SESSION_COOKIE_SECURE says the site is https

    # The JSON API
    API_TOKEN_TTL = env_int("API_TOKEN_TTL", 3600)  # seconds a bearer token lives
    # Per bearer token (per client address without one), every operation together; shared across hosts only with Redis.
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT") or "300 per minute"

    # The timeout ladder (app/ops/timeouts.py): database < request deadline < gunicorn < proxy.
    # Unset: derived from gunicorn's effective worker timeout; outside gunicorn no deadline, a 5 s busy wait.
    REQUEST_TIMEOUT = env_seconds("REQUEST_TIMEOUT")  # 0 turns the deadline off
    DATABASE_TIMEOUT = env_seconds("DATABASE_TIMEOUT")
    PROXY_READ_TIMEOUT = env_seconds("PROXY_READ_TIMEOUT") or 35.0  # what deploy/nginx/microblog-proxy.conf says


def settle(config) -> None:
    """Work out the settings that follow from others, once every one is read (a test's own included)."""
    shared, prefix = config.get("SHARED_STORE_URL") or "", config.get("SHARED_STORE_PREFIX") or "microblog:"
    config["ALERT_STATE_URL"] = config.get("ALERT_STATE_URL") or shared
    config["RATELIMIT_STORAGE_URI"] = config.get("RATELIMIT_STORAGE_URI") or shared or "memory://"
    # One prefix keeps all of a site's keys apart from another's on the same Redis.
    config["ALERT_STATE_PREFIX"] = config.get("ALERT_STATE_PREFIX") or prefix + "alerts:"
    config["RATELIMIT_KEY_PREFIX"] = config.get("RATELIMIT_KEY_PREFIX") or prefix.rstrip(":")
    config["MAIL_DEFAULT_SENDER"] = config.get("MAIL_DEFAULT_SENDER") or default_sender(config)


def default_sender(config) -> str:
    """Return no-reply at the site's own host name (SITE_URL's), the name its mails link to; without one, or when
    it is an address (an IP is no mail domain), at this machine's name."""
    host = urlsplit(config.get("SITE_URL") or "").hostname
    if not host or is_address(host):
        host = config.get("HOST_NAME") or socket.gethostname()
    return f"no-reply@{host}"


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class TestConfig(Config):
    """Settings for the test suite: a throwaway database, CSRF off unless a test turns it on."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("TEST_DATABASE_URL"), "sqlite://")
    SITE_URL = "http://localhost"  # the test client's host
    WTF_CSRF_ENABLED = False
    SQLITE_CREATE_FILE = True  # each test makes its tables on a fresh file with db.create_all()
    RATELIMIT_ENABLED = False  # tests/test_ratelimit.py turns it on
    # Tests log in hundreds of times; tests/test_passwords.py and tests/test_enumeration.py use the real method.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"
    # Answer with the error pages, as in production, instead of raising into the test; a test that wants the raise
    # sets it back (True, or None for Flask's own choice by DEBUG).
    PROPAGATE_EXCEPTIONS = False
