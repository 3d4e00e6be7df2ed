"""gunicorn settings for Microblog. `gunicorn microblog:app` reads this file from the working directory.

Every setting comes from the environment (or .env), so one file serves a laptop, a container and a VM.
"""

import multiprocessing
import os
import sys
from pathlib import Path

from dotenv import load_dotenv
from flask.helpers import get_debug_flag
from gunicorn.glogging import Logger

# The app reads .env when it loads; read it here too so that the checks below see the same settings.
load_dotenv(Path(__file__).resolve().with_name(".env"))

if get_debug_flag():
    sys.exit(
        "Refusing to start: FLASK_DEBUG is on. The Werkzeug debugger runs any code for whoever reaches it, "
        "so it must never face a network. Unset FLASK_DEBUG (or set it to 0) for gunicorn; "
        "use `make dev` for the debugger on your own machine."
    )

# Deployments run in production mode (development switches such as DEMO_ERRORS are refused there).
os.environ.setdefault("MICROBLOG_ENV", "production")


def default_bind() -> str:
    """Listen where BIND says; else on every interface at PORT (a platform's choice); else on loopback:8000."""
    if os.environ.get("BIND"):
        return os.environ["BIND"]
    if os.environ.get("PORT"):
        return f"0.0.0.0:{os.environ['PORT']}"
    return "127.0.0.1:8000"


class HealthQuietLogger(Logger):
    """gunicorn's logger, minus the access lines of requests the app marked (the health checks, app/health.py)."""

    def access(self, resp, req, environ, request_time):
        if environ.get("microblog.skip_access_log"):
            return
        super().access(resp, req, environ, request_time)


bind = default_bind()
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)  # a worker silent this long is killed and replaced
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 30)  # time to finish requests on restart
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 5)  # behind nginx, which holds its own client connections

logger_class = HealthQuietLogger
loglevel = os.environ.get("GUNICORN_LOG_LEVEL") or "info"
accesslog = os.environ.get("ACCESS_LOG") or "-"  # stdout, for the process manager or the log collector
errorlog = "-"  # stderr
# The combined log format plus the time taken and the request id the app returns in X-Request-ID.
access_log_format = (
    '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms pid=%(p)s request_id=%({x-request-id}o)s'
)

# gunicorn's control socket defaults to one path per user, which two instances on one host would fight over.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or None
control_socket_disable = control_socket is None
