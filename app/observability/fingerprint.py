"""Name a fault so that its occurrences group together: exception type plus innermost application frame."""

import hashlib
import logging
import types
from functools import lru_cache
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
PACKAGE_DIR = PROJECT_DIR / "app"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# One fault however many pages hit it: a busy, unreachable or read-only database (app/errors/handlers.py).
DATABASE_UNAVAILABLE = digest("database unavailable")


def fingerprint(exc: BaseException) -> str:
    """Name a fault by its exception type and innermost application frame, never by its message."""
    kind = type(exc)
    return digest(f"{kind.__module__}.{kind.__qualname__}|{innermost_application_place(exc.__traceback__)}")


def record_fingerprint(record: logging.LogRecord) -> str:
    """Return (and remember on the record) the fingerprint of a log record's fault."""
    if not getattr(record, "fingerprint", None):
        exc = record.exc_info[1] if record.exc_info else None
        record.fingerprint = fingerprint(exc) if exc else digest(f"{record.name}|{record.msg}")
    return record.fingerprint


def innermost_application_place(tb: types.TracebackType | None) -> str:
    """Return `path:function:line` of the innermost application frame (else of the innermost frame), or ""."""
    innermost = own = None
    while tb is not None:  # walked by hand: no source lines are read, no frame is kept
        code = tb.tb_frame.f_code
        innermost = (code.co_filename, code.co_name, tb.tb_lineno)
        if is_application_file(code.co_filename):
            own = innermost
        tb = tb.tb_next
    frame = own or innermost
    return f"{relative_path(frame[0])}:{frame[1]}:{frame[2]}" if frame else ""


def innermost_package_place(tb: types.TracebackType | None) -> str:
    """Return `path:function:line` of the innermost frame in the app/ package itself, or "" if none is."""
    own = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_package_file(code.co_filename):
            own = (code.co_filename, code.co_name, tb.tb_lineno)
        tb = tb.tb_next
    return f"{relative_path(own[0])}:{own[1]}:{own[2]}" if own else ""


@lru_cache(maxsize=4096)
def is_package_file(filename: str) -> bool:
    return is_application_file(filename) and Path(filename).resolve().is_relative_to(PACKAGE_DIR)


@lru_cache(maxsize=4096)  # a filename's answer never changes; resolving it costs a system call per path component
def is_application_file(filename: str) -> bool:
    path = Path(filename).resolve()
    return path.is_relative_to(PROJECT_DIR) and not {"site-packages", ".venv"} & set(path.parts)


@lru_cache(maxsize=4096)
def relative_path(filename: str) -> str:
    """Return a path relative to the project when it is inside it, else unchanged."""
    path = Path(filename).resolve()
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else filename
