"""Log lines an operator can read: UTC time, level, request id, logger, message, place; no secrets.

One rotating file shared safely by every worker process (concurrent-log-handler locks it around
each write and rotation), or stdout under a process manager; text or JSON lines. In an error
storm a fault's message and traceback are written once per window; its repeats are summed up in one
line a second that lists their request ids (app/observability/repeats.py), in a file of its own
(microblog-repeats.log), so an outage of any length cannot rotate away the lines that tell how it started.
"""

import json
import logging
import os
import re
import sys
import threading
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from flask import Flask, has_request_context, request
from flask.logging import default_handler
from sqlalchemy.engine import make_url

from app.observability.fingerprint import record_fingerprint, relative_path
from app.observability.repeats import RepeatSummaries, Summary
from app.observability.request_id import current_request_id
from app.observability.scrub import cookie_values, known_secrets, request_secrets, scrub_text
from app.version import __version__

# portalocker, under concurrent-log-handler, imports the Redis client for a RedisLock this app never
# uses: 6 MB of every worker's memory, nearly a tenth of it. None in sys.modules makes that one import fail, and
# portalocker stands a stub in for RedisLock. Where the app uses Redis (alert state, rate limits) the
# client is imported as usual. tests/test_health.py checks a worker does without it.
sys.modules.setdefault("portalocker.redis", None)

from concurrent_log_handler import ConcurrentRotatingFileHandler  # noqa: E402 (after the line above)

LOG_FILE_NAME = "microblog.log"
REPEATS_FILE_NAME = "microblog-repeats.log"
FORMATS = ("text", "json")

# Handlers this module attached, so that building a second app in one process (tests) replaces them.
_installed: list[tuple[logging.Logger, logging.Handler]] = []
_startup: dict[str, object] = {}


def configure_logging(app: Flask) -> None:
    """Send the app's log records to the log file (or stdout) in Microblog's line format."""
    remove_installed_handlers()
    if app.debug or (app.testing and not app.config["LOG_IN_TESTS"]):
        return
    handler, target, problem = output_handler(app.config, LOG_FILE_NAME)
    handler.setFormatter(make_formatter(app.config))
    repeats_output = handler  # stdout or stderr: one stream for everything
    if isinstance(handler, ConcurrentRotatingFileHandler):
        repeats_output, _, _ = output_handler(app.config, REPEATS_FILE_NAME)
        repeats_output.setFormatter(handler.formatter)
    summaries = RepeatSummaries(repeats_output, repeats_output is not handler, known_secrets(app.config))
    handler.addFilter(lambda record: not is_repeat(record))
    summaries.addFilter(is_repeat)
    gate = TracebackGate(app.config["ALERT_WINDOW"], app.config["LOG_ALL_TRACEBACKS"])
    for each in (handler, summaries):
        each.filters[:0] = [RequestIdFilter(), gate]  # before the split: they decide what a repeat is
        install(app.logger, each)
    app.logger.setLevel(app.config["LOG_LEVEL"])
    for name in LIBRARY_LOGGERS:
        install(logging.getLogger(name), ToAppLog(app.logger))
    if problem:
        app.logger.warning("Cannot write the log file in %s (%s); logging to stderr instead", *problem)
    if app.config["LOG_FORMAT"] not in FORMATS:
        app.logger.warning("LOG_FORMAT=%r is not one of %s; writing text lines", app.config["LOG_FORMAT"], FORMATS)
    if app.config.get("LOG_STARTUP", True):  # off for gunicorn's master reporter (observability/gunicorn.py)
        log_startup(app, target)


# Libraries whose warnings an operator must see: Flask-Limiter says here that the shared store is out of reach and
# that each worker counts on its own meanwhile.
LIBRARY_LOGGERS = ("flask-limiter",)


class ToAppLog(logging.Handler):
    """Hand a library's records of WARNING and above to the app's logger: its file, its format, its alerts."""

    def __init__(self, logger: logging.Logger):
        super().__init__(logging.WARNING)
        self.logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        self.logger.handle(record)


def install(logger: logging.Logger, handler: logging.Handler) -> None:
    """Attach a handler of ours; the next app built in this process (tests) closes and replaces it."""
    logger.removeHandler(default_handler)  # Flask's stderr handler would print every record a second time
    logger.addHandler(handler)
    logger.propagate = False  # and so would a handler the host put on the root logger
    _installed.append((logger, handler))


def remove_installed_handlers() -> None:
    while _installed:
        logger, handler = _installed.pop()
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()


def output_handler(config, file_name: str) -> tuple[logging.Handler, str, tuple[str, str] | None]:
    """Return the handler, a description of where it writes, and why the log file could not be used."""
    if config["LOG_TO_STDOUT"]:
        return logging.StreamHandler(sys.stdout), "stdout", None
    path = Path(config["LOG_DIR"]) / file_name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # exist_ok: several workers may start at once
        handler = ConcurrentRotatingFileHandler(
            str(path), maxBytes=config["LOG_MAX_BYTES"], backupCount=config["LOG_BACKUP_COUNT"], encoding="utf-8"
        )
    except OSError as error:
        return logging.StreamHandler(sys.stderr), "stderr", (str(path.parent), f"{type(error).__name__}: {error}")
    return handler, str(path), None


def make_formatter(config) -> logging.Formatter:
    secrets = known_secrets(config)
    if config["LOG_FORMAT"] == "json":
        return JsonFormatter(secrets, config["HOST_NAME"])
    return TextFormatter(secrets, config["HOST_NAME"])


def log_startup(app: Flask, target: str) -> None:
    """Say once per process which version started and with which (non-secret) settings."""

    config = app.config
    mail = f"on ({', '.join(config['ADMINS'])} via {config['MAIL_SERVER']}:{config['MAIL_PORT']})"
    _startup.update(
        logger=app.logger,
        args=(
            __version__,
            make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name(),
            mail if config["MAIL_SERVER"] and config["ADMINS"] else "off",
            f"{target} ({config['LOG_FORMAT']})",
            "on" if config["SENTRY_DSN"] else "off",
        ),
    )
    say_startup()


def say_startup() -> None:
    if _startup:
        message = "Microblog startup: version %s, pid %d, database %s, mail alerts %s, log %s, sentry %s"
        version, *settings = _startup["args"]
        _startup["logger"].info(message, version, os.getpid(), *settings)


# An app built before a fork (gunicorn --preload) serves in the children: each says it started.
os.register_at_fork(after_in_child=say_startup)


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request being served (in the thread that logs it): its id, method and path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        if not hasattr(record, "method") and has_request_context():
            record.method, record.path = request.method, request.path
        return True


def is_repeat(record: logging.LogRecord) -> bool:
    """Tell whether a record repeats a fault whose full record this window already holds."""
    return getattr(record, "first_logged", None) is not None


class TracebackGate(logging.Filter):
    """Let a fault's message and traceback through once per window in this process; repeats are summed up.

    A summary of repeats names the record that holds the whole story: "first logged at <time> [<request
    id>]", so an error storm cannot rotate away what came before it.
    """

    def __init__(self, window: float, always: bool = False):
        super().__init__()
        self.window = float(window)
        self.always = always
        self.first: dict[str, tuple[float, str]] = {}  # fingerprint: (time, request id) of its full record
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and not hasattr(record, "first_logged"):
            fingerprint, at = record_fingerprint(record), record.created
            # Once per record, though each handler runs this filter.
            record.first_logged = None if self.always else self.first_logged(fingerprint, at, record.request_id)
        return True

    def first_logged(self, fingerprint: str, now: float, request_id: str) -> tuple[float, str] | None:
        """Return when and in which request this window's full record was written, or None: this is it."""
        with self.lock:
            first = self.first.get(fingerprint)
            if first is not None and now < first[0] + self.window:
                return first
            if len(self.first) > 10_000:  # a bound, in case faults keep changing shape
                self.first.clear()
            self.first[fingerprint] = (now, request_id)
            return None


class MicroblogFormatter(logging.Formatter):
    """Gather a record's fields, scrubbed; subclasses lay them out. Every record names the host that wrote it:
    a site on several hosts is read from one place (a collector, `flask errors find`)."""

    def __init__(self, secrets: list[str], host: str):
        super().__init__()
        self.secrets, self.host = secrets, host

    def fields(self, record: logging.LogRecord) -> dict:
        if summary := getattr(record, "summary", None):
            return self.summary_fields(record, summary)
        exc = record.exc_info[1] if record.exc_info else None
        # A failure masks what the user typed too; any record made in a request masks its cookies' values.
        secrets = self.secrets + (request_secrets() if exc is not None else cookie_values())
        fields = {
            "time": utc_timestamp(record.created),
            "level": record.levelname,
            "host": self.host,
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "logger": record.name,
            "message": scrub_text(record.getMessage(), secrets),
            "place": f"{relative_path(record.pathname)}:{record.lineno}",
        }
        if exc is not None:
            fields["exception"] = {
                "type": type(exc).__name__,
                "message": scrub_text(str(exc), secrets),
                "fingerprint": record_fingerprint(record),
            }
            fields["traceback"] = scrub_text(self.formatException(record.exc_info), secrets)
        if record.stack_info:
            fields["stack"] = scrub_text(record.stack_info, self.secrets)
        return fields

    def summary_fields(self, record: logging.LogRecord, summary: Summary) -> dict:
        """A fault's repeats on one page in one interval: how many, when, where its full record is, and which
        requests they were (each listed once, in the order they were logged)."""
        first_time, first_request = summary.first_logged
        return {
            "time": utc_timestamp(summary.first),
            "level": record.levelname,
            "host": self.host,
            "request_id": "-",  # no one request's record: the ids below are
            "logger": record.name,
            "message": f"{summary.count} {'repeat' if summary.count == 1 else 'repeats'} of {summary.fingerprint}",
            "method": summary.method,
            "path": scrub_text(summary.path, self.secrets),
            "status": summary.status,
            "fingerprint": summary.fingerprint,
            "repeats": summary.count,
            "from": utc_timestamp(summary.first),
            "to": utc_timestamp(summary.last),
            "repeat_of": {"time": utc_timestamp(first_time), "request_id": first_request},
            "request_ids": summary.request_ids,
        }


class TextFormatter(MicroblogFormatter):
    """`2025-01-31T12:00:00.123Z ERROR web-1 [request-id] app: message | Type: text | fingerprint f [in place]`.

    A summary of repeats: `… [-] 812 repeats of f GET /explore 500 from 12:00:01.002 to 12:00:01.998, first
    logged at <time> [<request id>]; requests: <id> <id> …`. The fixed parts come before the path, which the
    request chose, and the ids after the last "; requests: ", so a path cannot pass for either.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        line = f"{fields['time']} {fields['level']} {fields['host']} [{fields['request_id']}] "
        if "request_ids" in fields:
            return line + summary_text(fields)
        line += f"{fields['logger']}: {one_line(fields['message'])}"
        if exception := fields.get("exception"):
            line += f" | {exception['type']}: {one_line(exception['message'])} | fingerprint {exception['fingerprint']}"
        line += f" [in {fields['place']}]"
        for block in ("traceback", "stack"):
            if block in fields:
                line += "\n" + escape_controls(fields[block].rstrip("\n"))
        return line


class JsonFormatter(MicroblogFormatter):
    """One JSON object per line, with the same fields as the text format."""

    def format(self, record: logging.LogRecord) -> str:
        return json_line(self.fields(record))


def summary_text(fields: dict) -> str:
    head = f"{fields['message']} {one_line(fields['method'])} {one_line(fields['path'])} {fields['status']}"
    span = f"from {fields['from'][11:23]} to {fields['to'][11:23]}"  # the times of day: the line gives the date
    first = f"first logged at {fields['repeat_of']['time']} [{fields['repeat_of']['request_id']}]"
    return f"{head} {span}, {first}; requests: {' '.join(fields['request_ids'])}"


def utc_timestamp(created: float) -> str:
    seconds = int(created)
    return f"{utc_second(seconds)}.{int((created - seconds) * 1000):03d}Z"


@lru_cache(maxsize=8)  # strftime is a good part of a log line's cost; records come second after second
def utc_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# C0 controls, DEL, C1 controls and Unicode's line and paragraph separators. Each ends a line for some reader
# (CR and LF for all, U+0085 and U+2028 for str.splitlines(), ESC sequences erase lines in a terminal,
# NUL makes grep call the file binary), so text that came with a request shows them escaped.
UNSAFE_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
UNSAFE_IN_A_BLOCK = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # the same, but LF ends a line
UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")  # json.dumps escapes C0 itself
NAMED_ESCAPES = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def escape_character(match: re.Match) -> str:
    character = match[0]
    code = ord(character)
    return NAMED_ESCAPES.get(character) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def one_line(text: str) -> str:
    """Escape line breaks and every other control character, so that text from a request cannot forge a line."""
    if text.isprintable():  # no control character or line separator: the common case, checked in C
        return text
    return UNSAFE_IN_A_LINE.sub(escape_character, text)


def escape_controls(text: str) -> str:
    """Escape control characters in a block of lines (a traceback), keeping its line feeds."""
    return UNSAFE_IN_A_BLOCK.sub(escape_character, text)


def json_line(fields: dict) -> str:
    """Return one JSON object on one line: U+0085, U+2028 and U+2029, which json.dumps leaves raw, escaped too."""
    return UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match[0]):04x}", json.dumps(fields, ensure_ascii=False))
