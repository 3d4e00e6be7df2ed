"""Errors outside requests: an exception that escapes a `flask` command or a background thread.

Both reach the same handlers as a failing request (the log line in the app's format, one alert per
fault and window, scrubbed) through `sys.excepthook` and `threading.excepthook`. The hooks are set once
per process and look up the `app` logger when they fire; the previous hook still runs afterwards, so a
person at a terminal keeps seeing the traceback of a failed command.
"""

import logging
import sys
import threading

from flask import Flask
from flask.logging import default_handler

_previous: dict[str, object] = {}


def init_uncaught(app: Flask) -> None:
    """Route uncaught exceptions (main thread and other threads) through `app.logger` from now on."""
    if not _previous:
        _previous.update(sys=sys.excepthook, threading=threading.excepthook)
        sys.excepthook = log_uncaught
        threading.excepthook = log_uncaught_in_thread
    _previous["logger"] = app.logger.name


def ours(logger: logging.Logger) -> bool:
    """Tell whether our handlers are on the logger (not once removed: the tests' teardown)."""
    return any(handler is not default_handler for handler in logger.handlers)


def log_uncaught(kind, error, tb) -> None:
    logger = logging.getLogger(_previous["logger"])
    if ours(logger) and not issubclass(kind, KeyboardInterrupt):
        logger.error("Uncaught %s: %s", kind.__name__, error, exc_info=(kind, error, tb))
    _previous["sys"](kind, error, tb)


def log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    logger = logging.getLogger(_previous["logger"])
    if ours(logger) and args.exc_type is not SystemExit:
        name = args.thread.name if args.thread else "?"
        exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
        logger.error("Uncaught %s in thread %s: %s", args.exc_type.__name__, name, args.exc_value, exc_info=exc_info)
    _previous["threading"](args)
