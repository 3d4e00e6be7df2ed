"""gunicorn settings for Microblog. `gunicorn microblog:app` reads this file from the working directory.

Every setting comes from the environment (or .env), so one file serves a laptop, a container and a VM.
"""

import multiprocessing
import os
import sys
from pathlib import Path

from dotenv import load_dotenv
from flask.helpers import get_debug_flag

# First of all: every file this server creates (the log files, the access log, the alert state, a SQLite
# database) is for its own user and group only, 0640, never readable by every account on the host. The
# workers inherit it from the master. (microblog.py does the same for `flask run` and `flask` commands.)
umask = 0o027  # gunicorn's own setting: the mode of a unix socket it binds
os.umask(umask)

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


bind = default_bind()
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)  # a worker silent this long is killed and replaced
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 30)  # time to finish requests on restart
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 5)  # behind nginx, which holds its own client connections

# gunicorn believes X-Forwarded-Proto/-Ssl (the scheme) and SCRIPT_NAME/PATH_INFO headers from the peers in
# forwarded_allow_ips, by default 127.0.0.1: any process on this host, and any client of a local proxy that
# passes those headers on. The app reads its proxy's headers itself, through ProxyFix and the PROXY_FIX_*
# counts (app/security.py), so gunicorn believes no one.
forwarded_allow_ips = ""
forwarder_headers = ""
secure_scheme_headers = {}

# gunicorn's own records and its access records in the app's layout (LOG_FORMAT: text or JSON), scrubbed,
# with the request id, and without the health checks (app/observability/gunicorn.py).
logger_class = "app.observability.gunicorn.MicroblogLogger"
# A request line as long as nginx takes (large_client_header_buffers, 8 KB by default) reaches the app: with
# gunicorn's default of 4 KB, an address between the two got gunicorn's bare "URI Too Long" page. 8190 is
# gunicorn's highest; longer lines are still refused, by nginx first.
limit_request_line = 8190

loglevel = os.environ.get("GUNICORN_LOG_LEVEL") or "info"
accesslog = os.environ.get("ACCESS_LOG") or "-"  # stdout, for the process manager or the log collector
errorlog = "-"  # stderr

# gunicorn's control socket defaults to one path per user, which two instances on one host would fight over.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or None
control_socket_disable = control_socket is None


# Server hooks: what the app cannot see for itself once a worker is stuck or gone.
# The imports are inside the hooks so that reading this file does not load the app.


def on_starting(server):
    """Master: make the folder where each worker publishes the request it serves."""
    from app.observability.gunicorn import make_inflight_directory

    make_inflight_directory(server.log)


def when_ready(server):
    """Master: show the timeout ladder once, and warn when a setting breaks it."""
    from app.observability.gunicorn import settings
    from app.ops.timeouts import derive

    ladder = derive(settings(), server.cfg.timeout)
    server.log.info("Timeouts: %s", ladder.describe())
    for problem in ladder.problems():
        server.log.warning(
            "Timeout ladder broken: %s; an outer layer will fail before the inner one can answer", problem
        )


def post_fork(server, worker):
    """Worker, before it builds the app: the ladder is derived from gunicorn's effective timeout."""
    from app.observability.gunicorn import capture_stray_lines
    from app.ops.timeouts import WORKER_TIMEOUT_ENV

    os.environ[WORKER_TIMEOUT_ENV] = str(server.cfg.timeout)
    capture_stray_lines()


def post_worker_init(worker):
    from app.observability.gunicorn import release_stray_lines

    release_stray_lines()


def worker_abort(worker):
    """Worker, on gunicorn's SIGABRT at its timeout, if Python still runs: report the request and its stack."""
    from app.observability.gunicorn import report_aborted_request

    report_aborted_request(worker)


def child_exit(server, worker):
    """Master, when a worker is gone: report the request it was serving, if any."""
    from app.observability.gunicorn import report_lost_request

    report_lost_request(server, worker)


def on_exit(server):
    """Master, as it stops: remove the folder of the workers' slots it made."""
    from app.observability.gunicorn import remove_inflight_directory

    remove_inflight_directory()
