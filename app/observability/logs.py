"""Log lines an operator can read: UTC time, level, request id, logger, message, place; no secrets.

One rotating file shared safely by every worker process (concurrent-log-handler locks it around
each write and rotation), or stdout under a process manager; text or JSON lines. During an error
storm each occurrence still gets its line, but a fault's traceback is written once per window.
"""

import json
import logging
import os
import sys
import threading
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from concurrent_log_handler import ConcurrentRotatingFileHandler
from flask import Flask
from flask.logging import default_handler
from sqlalchemy.engine import make_url

from app.observability.fingerprint import record_fingerprint, relative_path
from app.observability.request_id import current_request_id
from app.observability.scrub import known_secrets, scrub_text
from app.version import __version__

LOG_FILE_NAME = "microblog.log"
FORMATS = ("text", "json")

# Handlers this module attached, so that building a second app in one process (tests) replaces them.
_installed: list[tuple[logging.Logger, logging.Handler]] = []
_startup: dict[str, object] = {}


def configure_logging(app: Flask) -> None:
    """Send the app's log records to the log file (or stdout) in Microblog's line format."""
    remove_installed_handlers()
    if app.debug or (app.testing and not app.config["LOG_IN_TESTS"]):
        return
    handler, target, problem = output_handler(app.config)
    handler.setFormatter(make_formatter(app.config))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(TracebackGate(app.config["ALERT_WINDOW"], app.config["LOG_ALL_TRACEBACKS"]))
    install(app.logger, handler)
    app.logger.setLevel(app.config["LOG_LEVEL"])
    if problem:
        app.logger.warning("Cannot write the log file in %s (%s); logging to stderr instead", *problem)
    if app.config["LOG_FORMAT"] not in FORMATS:
        app.logger.warning("LOG_FORMAT=%r is not one of %s; writing text lines", app.config["LOG_FORMAT"], FORMATS)
    if app.config.get("LOG_STARTUP", True):  # off for gunicorn's master reporter (observability/gunicorn.py)
        log_startup(app, target)


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


def output_handler(config) -> tuple[logging.Handler, str, tuple[str, str] | None]:
    """Return the handler, a description of where it writes, and why the log file could not be used."""
    if config["LOG_TO_STDOUT"]:
        return logging.StreamHandler(sys.stdout), "stdout", None
    path = Path(config["LOG_DIR"]) / LOG_FILE_NAME
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
        return JsonFormatter(secrets)
    return TextFormatter(secrets)


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
    """Stamp each record with the id of the request being served (in the thread that logs it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class TracebackGate(logging.Filter):
    """Let a fault's traceback through once per window in this process; its other occurrences get one line."""

    def __init__(self, window: float, always: bool = False):
        super().__init__()
        self.window = float(window)
        self.always = always
        self.first_seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.show_traceback = self.always or self.is_first(record_fingerprint(record), record.created)
        return True

    def is_first(self, fingerprint: str, now: float) -> bool:
        with self.lock:
            start = self.first_seen.get(fingerprint)
            if start is not None and now < start + self.window:
                return False
            if len(self.first_seen) > 10_000:  # a bound, in case faults keep changing shape
                self.first_seen.clear()
            self.first_seen[fingerprint] = now
            return True


class MicroblogFormatter(logging.Formatter):
    """Gather a record's fields, scrubbed; subclasses lay them out."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = secrets

    def fields(self, record: logging.LogRecord) -> dict:
        exc = record.exc_info[1] if record.exc_info else None
        fields = {
            "time": utc_timestamp(record.created),
            "level": record.levelname,
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "logger": record.name,
            "message": self.scrub(record.getMessage()),
            "place": f"{relative_path(record.pathname)}:{record.lineno}",
        }
        if exc is not None:
            fields["exception"] = {
                "type": type(exc).__name__,
                "message": self.scrub(str(exc)),
                "fingerprint": record_fingerprint(record),
            }
            if getattr(record, "show_traceback", True):
                fields["traceback"] = self.scrub(self.formatException(record.exc_info))
        if record.stack_info:
            fields["stack"] = self.scrub(record.stack_info)
        return fields

    def scrub(self, text: str) -> str:
        return scrub_text(text, self.secrets)


class TextFormatter(MicroblogFormatter):
    """`2025-01-31T12:00:00.123Z ERROR [request-id] app: message | Type: text | fingerprint f [in place]`."""

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        line = f"{fields['time']} {fields['level']} [{fields['request_id']}] {fields['logger']}: "
        line += one_line(fields["message"])
        if exception := fields.get("exception"):
            line += f" | {exception['type']}: {one_line(exception['message'])} | fingerprint {exception['fingerprint']}"
            if "traceback" not in fields:
                line += " | traceback already logged in this window"
        line += f" [in {fields['place']}]"
        for block in ("traceback", "stack"):
            if block in fields:
                line += "\n" + fields[block].rstrip("\n")
        return line


class JsonFormatter(MicroblogFormatter):
    """One JSON object per line, with the same fields as the text format."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), ensure_ascii=False)


def utc_timestamp(created: float) -> str:
    seconds = int(created)
    return f"{utc_second(seconds)}.{int((created - seconds) * 1000):03d}Z"


@lru_cache(maxsize=8)  # strftime is a good part of a log line's cost; records come second after second
def utc_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def one_line(text: str) -> str:
    """Escape line breaks so that text from a request cannot forge a log line of its own."""
    return text.replace("\r", "\\r").replace("\n", "\\n")
