"""gunicorn's side of observability: its logs in the app's format, and the requests of workers that died.

gunicorn.conf.py names `MicroblogLogger` as its logger class and calls the functions here from its
server hooks. Everything runs in gunicorn's processes; the master never builds the web app, only
`reporter()`, an app with the observability parts alone (the same log and alert mail as the workers).
"""

import io
import logging
import os
import shutil
import sys
import tempfile
import time

from flask import Flask
from gunicorn.glogging import Logger

from app.observability import inflight
from app.observability import init_app as init_observability
from app.observability.fingerprint import digest
from app.observability.logs import JsonFormatter, RequestIdFilter, TextFormatter, one_line, utc_timestamp
from app.observability.scrub import MASK, known_secrets, scrub_text, scrub_url
from config import Config, settle

# Set by app/ops/health.py on the WSGI environ of requests to keep out of the access log.
SKIP_ACCESS_LOG = "microblog.skip_access_log"
ACCESS_FIELDS = ("method", "path", "status", "bytes", "duration_ms", "pid", "client", "user_agent")

_reporter: list[Flask] = []
_made_directory: list[tuple[int, str]] = []  # (pid of the master, the slots' folder it made)


def settings() -> dict:
    """Return the settings as the app would read them (Config), without building the app."""
    values = {name: getattr(Config, name) for name in dir(Config) if name.isupper()}
    settle(values)
    return values


class AccessFormatterMixin:
    """Lay an access record out like any other, plus its own fields (it has no place in the code).

    Its parts were scrubbed as they were taken (access_fields), so only the known secret values are masked
    here: an access record is written for every request and must stay cheap.
    """

    def fields(self, record: logging.LogRecord) -> dict:
        access = getattr(record, "access", None)
        if access is None:
            return super().fields(record)
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, MASK)
        base = {"time": utc_timestamp(record.created), "level": record.levelname, "host": self.host,
                "request_id": record.request_id, "logger": record.name, "message": message, "place": "-"}  # fmt: skip
        return base | access


class GunicornTextFormatter(AccessFormatterMixin, TextFormatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line.removesuffix(" [in -]") if getattr(record, "access", None) else line


class GunicornJsonFormatter(AccessFormatterMixin, JsonFormatter):
    def fields(self, record: logging.LogRecord) -> dict:
        fields = super().fields(record)
        if fields["place"] == "-":
            del fields["place"]
        return fields


class MicroblogLogger(Logger):
    """gunicorn's logger writing the app's layout (text or JSON), scrubbed, with health checks left out.

    It also notes how each worker ended ("was sent SIGKILL", "exited with code 1"), which gunicorn logs
    just before it calls the `child_exit` hook, so that the report of a lost request can name the signal.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        config = settings()
        kind = GunicornJsonFormatter if config["LOG_FORMAT"] == "json" else GunicornTextFormatter
        formatter = kind(known_secrets(config), config["HOST_NAME"])
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                    handler.addFilter(RequestIdFilter())
        self.fates: dict[int, str] = {}

    def access(self, resp, req, environ, request_time) -> None:
        if environ.get(SKIP_ACCESS_LOG) or not self.access_log_enabled:
            return
        try:
            self.access_log.info("%s", access_message(access := access_fields(resp, environ, request_time)),
                                 extra={"access": access, "request_id": response_request_id(resp)})  # fmt: skip
        except Exception:
            self.exception("Could not write the access record")

    # stacklevel=3: the record's place is gunicorn's caller (arbiter.py:…), not this wrapper or glogging.py.
    def critical(self, msg, *args, **kwargs) -> None:
        super().critical(msg, *args, stacklevel=3, **kwargs)

    def error(self, msg, *args, **kwargs) -> None:
        self.note_fate(msg, args)
        super().error(msg, *args, stacklevel=3, **kwargs)

    def warning(self, msg, *args, **kwargs) -> None:
        self.note_fate(msg, args)
        super().warning(msg, *args, stacklevel=3, **kwargs)

    def info(self, msg, *args, **kwargs) -> None:
        self.note_fate(msg, args)
        super().info(msg, *args, stacklevel=3, **kwargs)

    def exception(self, msg, *args, **kwargs) -> None:
        super().exception(msg, *args, stacklevel=3, **kwargs)
        if msg == "Exception in worker process":  # gunicorn's words for a worker that failed (to boot)
            report_worker_failure()

    def note_fate(self, msg, args) -> None:
        if isinstance(msg, str) and msg.startswith("Worker (pid:%s) was sent %s!") and len(args) == 2:
            self.fates[args[0]] = f"killed by {args[1]}"
        elif msg == "Worker (pid:%s) exited with code %s." and len(args) == 2:
            self.fates.setdefault(args[0], f"exited with code {args[1]}")


def access_fields(resp, environ, request_time) -> dict:
    raw_uri = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
    return {
        "method": environ.get("REQUEST_METHOD", "-"),
        "path": scrub_url(raw_uri) if ("?" in raw_uri or "@" in raw_uri) else raw_uri,
        "status": int(str(resp.status).split(None, 1)[0]),
        "bytes": getattr(resp, "sent", 0) or 0,
        "duration_ms": round(request_time.total_seconds() * 1000, 1),
        "pid": os.getpid(),
        "client": environ.get("REMOTE_ADDR", "-"),
        "user_agent": scrub_user_agent(environ.get("HTTP_USER_AGENT", "-")),
    }


def scrub_user_agent(agent: str) -> str:
    """Scrub a user agent as text, skipping the regular expressions when it holds nothing they could match."""
    agent = agent[:300]
    return scrub_text(agent) if ("=" in agent or "://" in agent or '"' in agent or "'" in agent) else agent


def access_message(access: dict) -> str:
    """`GET /explore 200 15974 B 22.0 ms client=127.0.0.1 pid=4242 agent="curl/8.5.0"`: one line, always."""
    return one_line(
        f"{access['method']} {access['path']} {access['status']} {access['bytes']} B {access['duration_ms']} ms "
        f'client={access["client"]} pid={access["pid"]} agent="{access["user_agent"]}"'
    )


def response_request_id(resp) -> str:
    for name, value in resp.headers:
        if name.lower() == "x-request-id":
            return value
    return "-"


def reporter() -> Flask:
    """Return an app with only the observability parts (log, alert mail, Sentry), built on first use.

    Named "app" like the web app, so it has the same instance folder (the same shared alert state) and
    logs through the same `app` logger.
    """
    if not _reporter:
        app = Flask("app")
        app.config.from_object(Config)
        settle(app.config)
        app.config["LOG_STARTUP"] = False  # no "Microblog startup" from the master
        init_observability(app)
        _reporter.append(app)
    return _reporter[0]


def report_lost_request(server, worker) -> None:
    """In the master, when a worker is gone: if it died serving a request, log and alert which one."""
    directory = os.environ.get(inflight.DIRECTORY_ENV)
    facts = inflight.take_request(directory, worker.pid) if directory else None
    if not facts:
        return
    fate = getattr(server.log, "fates", {}).pop(worker.pid, "gone")
    if worker.aborted:
        fate += f" after gunicorn's timeout of {server.cfg.timeout:g} s"
    running = f"{time.time() - facts['started']:.1f} s" if facts.get("started") else "unknown"
    where = f"{facts['method']} {facts['path']}"
    request_facts = {"Method": facts["method"], "Path": facts["path"], "Reference": facts["request_id"],
                     "User": facts["user"], "Running for": running, "Worker": f"pid {worker.pid}, {fate}"}  # fmt: skip
    reporter().logger.error(
        "Worker %d %s while serving %s (request id %s, user %s, running %s)",
        worker.pid, fate, where, facts["request_id"], facts["user"], running,
        extra={"request_id": facts["request_id"], "request_facts": request_facts,
               "fingerprint": digest(f"worker lost|{where.split('?')[0]}")},
    )  # fmt: skip


def report_aborted_request(worker) -> None:
    """In a worker that gunicorn aborts at its timeout while Python still runs (no deadline, or threads):
    log and alert the request with the stack it was stuck in; the request's teardown then clears its slot."""
    facts = inflight.current_request()
    if not facts:
        return
    where = f"{facts['method']} {facts['path']}"
    running = f"{time.time() - facts['started']:.1f} s"
    logging.getLogger("app").error(
        "Worker %d aborted after gunicorn's timeout of %g s while serving %s (request id %s, user %s, running %s)",
        os.getpid(), worker.cfg.timeout, where, facts["request_id"], facts["user"], running,
        stack_info=True,  # the signal handler runs on top of the frame the request was stuck in
        extra={"request_id": facts["request_id"], "fingerprint": digest(f"worker lost|{where.split('?')[0]}")},
    )  # fmt: skip


def report_worker_failure() -> None:
    """In a worker whose boot (or serving loop) failed: log and alert the exception once per alert window."""
    error = sys.exc_info()[1]
    if error is None:
        return
    try:
        reporter().logger.error("A gunicorn worker failed: %s: %s", type(error).__name__, error, exc_info=error)
    except Exception:  # the settings themselves may be what is broken; gunicorn has logged the traceback
        pass


def make_inflight_directory(log) -> None:
    """In the master at start: set up the folder of the workers' slots and tell the workers, which inherit the
    environment. MICROBLOG_INFLIGHT_DIR if set, once checked (else the site serves without slots, and `log`
    says why); otherwise a fresh temporary one (0700), removed at exit (remove_inflight_directory)."""
    if directory := os.environ.get(inflight.DIRECTORY_ENV):
        if problem := inflight.folder_problem(directory):
            log.error("Not publishing the requests in flight: %s. A killed worker's request will go unreported; "
                      "name a folder of this account's that only it may write in.", problem)  # fmt: skip
            del os.environ[inflight.DIRECTORY_ENV]
    else:
        directory = tempfile.mkdtemp(prefix="microblog-inflight-")
        os.environ[inflight.DIRECTORY_ENV] = directory
        _made_directory.append((os.getpid(), directory))


def remove_inflight_directory() -> None:
    """In the master at exit: remove the temporary folder it made for the slots (a configured one stays).

    Only in the process that made it: a worker is a fork of the master, and a worker leaving (at max_requests,
    on SIGTERM) must never take the folder from the master and the other workers.
    """
    for pid, directory in _made_directory:
        if pid == os.getpid():
            shutil.rmtree(directory, ignore_errors=True)


class StrayLinesToLog(io.TextIOBase):
    """A stand-in for stderr while a worker boots: each line written becomes a record of gunicorn's log.

    gunicorn prints a failed boot's exception and Python prints warnings straight to stderr; with
    LOG_FORMAT=json those plain lines would break the stream. A line that is already a JSON object passes.
    """

    def __init__(self, stream, log: logging.Logger):
        super().__init__()
        self.stream, self.log, self.pending = stream, log, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.startswith("{"):
                self.stream.write(line + "\n")
            elif line.strip():
                self.log.error("%s", line)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def capture_stray_lines() -> None:
    """In a worker after fork, with LOG_FORMAT=json: route stray stderr lines through the error log until boot."""
    if settings()["LOG_FORMAT"] == "json" and not isinstance(sys.stderr, StrayLinesToLog):
        sys.stderr = StrayLinesToLog(sys.stderr, logging.getLogger("gunicorn.error"))


def release_stray_lines() -> None:
    if isinstance(sys.stderr, StrayLinesToLog):
        sys.stderr = sys.stderr.stream
