"""The request a worker is serving, published where gunicorn's master can read it after the worker dies.

A gunicorn worker killed past its timeout (stuck in C, out of memory, SIGKILL) takes its request with
it: no log line, no access line, no alert. So each worker writes what it is serving into a small file
of its own (`<MICROBLOG_INFLIGHT_DIR>/<pid>.json`) when a request starts, and blanks it when the request
ends; when the master reaps a worker that died with a request in its file, it reports that request
(app/observability/gunicorn.py). One `pwrite` on an open file per step costs a few microseconds and no
`fsync`: the master reads it through the page cache, which outlives the process.

Outside gunicorn (no MICROBLOG_INFLIGHT_DIR, set by gunicorn.conf.py's `on_starting`) nothing is written.
A record always fits its slot whole: a path too long is cut (ending in CUT), never the JSON around it.
The folder is one the master made (0700) or checked (folder_problem), and a slot is opened without
following a link: another account cannot have a worker write where it chooses.
"""

import json
import logging
import os
import stat
import time
from pathlib import Path

from flask import Flask, g, request

from app.observability.request_id import current_request_id, current_user_label
from app.observability.scrub import cookie_values, scrub_text, scrub_url

DIRECTORY_ENV = "MICROBLOG_INFLIGHT_DIR"
SLOT_SIZE = 2048  # bytes a slot takes; a record's path is cut to fit (encode_record)
PATH_MAX = 500
CUT = "\u2026"  # ends a path that was cut

_slot: dict[str, int | None] = {}  # {"pid": ..., "fd": ...} of this process's open slot


def init_inflight(app: Flask) -> None:
    if os.environ.get(DIRECTORY_ENV):
        app.before_request(publish_current_request)
        app.teardown_request(clear_current_request)


def slot_path(directory: str | Path, pid: int) -> Path:
    return Path(directory) / f"{pid}.json"


def folder_problem(directory: str | Path) -> str | None:
    """Make `directory` (0700) if it is missing; return what makes it unfit for the slots, or None.

    A worker opens its slot by name in this folder: an account that may write there could put a link or a
    file of its own in a slot's place, so the folder must be this account's and closed to the others.
    """
    path = Path(directory)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = path.stat()
    except OSError as error:
        return f"{directory} cannot be made or read ({error})"
    if status.st_uid != os.geteuid():
        return f"{directory} belongs to uid {status.st_uid}, not to this account (uid {os.geteuid()})"
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{directory} is writable by its group or by others (mode {stat.S_IMODE(status.st_mode):04o})"
    return None


def slot_fd() -> int | None:
    """Open this process's slot once (again in a forked child); None when there is nowhere to publish."""
    if _slot.get("pid") != os.getpid():
        directory = os.environ.get(DIRECTORY_ENV)
        _slot.update(pid=os.getpid(), fd=open_slot(slot_path(directory, os.getpid())) if directory else None)
    return _slot["fd"]


def open_slot(path: Path) -> int | None:
    """Open the slot at `path`, never through a link put in its place (O_NOFOLLOW) nor into a program the
    worker starts (O_CLOEXEC). On failure the worker serves on without publishing, and says so once."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        logging.getLogger("app").warning(
            "Not publishing the requests of worker %d in flight: its slot %s cannot be opened (%s)",
            os.getpid(), path, error,
        )  # fmt: skip
        return None


def encode_record(facts: dict) -> bytes:
    """Return `facts` as JSON that fits a slot, its path cut as little as needed (ending in CUT), never the JSON.

    json.dumps escapes each non-ASCII character (six bytes for an é), so a path within PATH_MAX characters can
    still overflow. The other fields are short by rule: a request id has at most 64 characters, a username too.
    """
    record = json.dumps(facts)
    if len(record) < SLOT_SIZE:  # all ASCII: as many bytes as characters
        return record.encode()
    path, keep, too_long = facts["path"], 0, len(facts["path"])
    while too_long - keep > 1:  # the longest cut that fits: keep fits, too_long does not
        middle = (keep + too_long) // 2
        if fits(facts, path[:middle] + CUT):
            keep = middle
        else:
            too_long = middle
    return json.dumps(facts | {"path": path[:keep] + CUT}).encode()


def fits(facts: dict, path: str) -> bool:
    return len(json.dumps(facts | {"path": path})) < SLOT_SIZE


def write_slot(record: bytes) -> None:
    fd = slot_fd()
    if fd is not None:
        os.pwrite(fd, record[: SLOT_SIZE - 1].ljust(SLOT_SIZE), 0)


def publish_current_request() -> None:
    """Say which request this worker now serves; republished when the user becomes known (note_user)."""
    path = scrub_url(request.full_path) if request.query_string else request.path
    if cookies := cookie_values():  # a cookie's value in the address (a link built from it) is masked too
        path = scrub_text(path, cookies)
    g.inflight = {
        "method": request.method,
        "path": path if len(path) <= PATH_MAX else path[:PATH_MAX] + CUT,
        "request_id": current_request_id(),
        "user": current_user_label(),
        "started": time.time(),
        "pid": os.getpid(),
    }
    write_slot(encode_record(g.inflight))
    g.republish_inflight = republish_user


def republish_user() -> None:
    """Publish the request again with its user's label, the one fact that changed."""
    g.inflight["user"] = current_user_label()
    write_slot(encode_record(g.inflight))


def current_request() -> dict | None:
    """Return what this worker published as its current request (None when idle or not publishing)."""
    fd = _slot.get("fd") if _slot.get("pid") == os.getpid() else None
    text = os.pread(fd, SLOT_SIZE, 0).decode(errors="replace").strip(" \x00\n") if fd is not None else ""
    return json.loads(text) if text.startswith("{") else None


def clear_current_request(_error: BaseException | None = None) -> None:
    g.pop("republish_inflight", None)
    write_slot(b"")


def take_request(directory: str | Path, pid: int) -> dict | None:
    """In the master: return the request a dead worker was serving (None if it was idle), and remove its slot."""
    path = slot_path(directory, pid)
    try:
        text = path.read_bytes().decode(errors="replace").strip(" \x00\n")
        path.unlink()
    except OSError:
        return None
    try:
        return json.loads(text) if text.startswith("{") else None
    except ValueError:  # cut in the middle of a write: say what can be said
        return {"method": "?", "path": "?", "request_id": "-", "user": "?", "started": None, "pid": pid}
