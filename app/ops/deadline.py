"""A request past its deadline fails like any other error, before gunicorn kills the worker.

The pattern of Ruby's rack-timeout: when a request starts, a real-time timer (SIGALRM) is set to
REQUEST_TIMEOUT (the ladder in app/ops/timeouts.py puts it below gunicorn's timeout). If it fires, the
signal handler raises `RequestDeadlineExceeded` in whatever Python code the request is running: a
loop, a sleep, a wait that the signal interrupts. The handler below rolls the session back, logs the
stack where the request was stuck (grouped by the alert pipeline like any fault: the exception type
plus the innermost application frame), and answers 503 with Retry-After in the site's look, or JSON.
The worker lives on and serves the next request.

The body comes first. Without a proxy in front that buffers it, a client can send a body byte by byte, and
a sync worker serves one request at a time: the worker would be held until the deadline fired and mailed
on-call about a fault that is not the site's. So right after the timer is set, the whole body is read (and
kept for the form parser and `get_json`) within half the deadline (BODY_SHARE): past that the answer is a
408 in the site's words, logged at INFO and never mailed, and what arrived is dropped. Once the body is
in, the rest of the deadline is the view's.

The limits, chosen knowingly:
- A signal reaches only the main thread, so the timer is set only there. gunicorn's sync workers (what
  gunicorn.conf.py runs) serve in the main thread; under gthread or other threaded servers, and
  `flask run`, there is no deadline, and the database timeouts and gunicorn's timeout remain.
- A signal handler runs between Python bytecodes. A call stuck inside C (a runaway SQLite query, a C
  library that retries its wait) is not interrupted: gunicorn kills that worker at its timeout, and
  the master reports the request it was serving (app/observability/inflight.py).
- The timer is cleared once the response is built; the streaming of a body is not covered.
"""

import signal
import threading
import time
from io import BytesIO

from flask import Flask, current_app, g, request
from werkzeug.exceptions import RequestTimeout, ServiceUnavailable

from app.database import rollback_quietly
from app.errors.handlers import error_response, leave_user_unloaded
from app.observability.fingerprint import digest, innermost_application_place

BODY_SHARE = 0.5  # of REQUEST_TIMEOUT, for the whole body to arrive; the rest is the view's


class RequestDeadlineExceeded(Exception):
    """Raised inside a request that ran past REQUEST_TIMEOUT."""


class BodyTooSlow(RequestTimeout):
    """The request's body did not arrive within its share of the deadline: the client's doing, not a fault."""


class TookTooLong(ServiceUnavailable):
    description = "This page took too long to prepare, so we stopped it. Nothing was changed; please try again."


def init_app(app: Flask) -> None:
    """Arm the deadline for every request (when REQUEST_TIMEOUT is set) and answer it with the 503 page."""
    app.register_error_handler(RequestDeadlineExceeded, handle_deadline_exceeded)
    if app.config["REQUEST_TIMEOUT"]:
        app.before_request(arm)
        app.before_request(read_body_in_time)
        app.after_request(disarm_after)
        app.teardown_request(disarm)


def arm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only: no deadline here (see the module's docstring)
    if signal.getsignal(signal.SIGALRM) is not on_alarm:
        signal.signal(signal.SIGALRM, on_alarm)
    g.deadline_started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, current_app.config["REQUEST_TIMEOUT"])


def read_body_in_time() -> None:
    """Read the whole body within its share of the deadline, before any other step or the view reads it."""
    if "deadline_started" not in g or not has_body():
        return  # no timer here (not the main thread), or nothing to wait for
    timeout = current_app.config["REQUEST_TIMEOUT"]
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout * BODY_SHARE)
        request.get_data(cache=True)  # kept: the form parser and get_json read it from there
        left = timeout - (time.monotonic() - g.deadline_started)
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))  # 0 would disarm it
    except RequestDeadlineExceeded:
        request.stream = BytesIO()  # what arrived is dropped: nothing after this (a page, a report) waits for more
        size = f"{request.content_length} bytes" if request.content_length else "chunked body"
        current_app.logger.info("Request body too slow on %s %s: not all of its %s arrived within %g s",
                                request.method, request.path, size, timeout * BODY_SHARE)  # fmt: skip
        raise BodyTooSlow() from None


def has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def disarm(_error: BaseException | None = None) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)


def disarm_after(response):
    disarm()
    return response


def on_alarm(_signum, _frame) -> None:
    raise RequestDeadlineExceeded(f"Request deadline of {current_app.config['REQUEST_TIMEOUT']:g} s exceeded")


def handle_deadline_exceeded(error: RequestDeadlineExceeded):
    """Roll back, log where the request was stuck, answer 503 with Retry-After without touching the database."""
    disarm()
    drop_own_frame(error)
    rollback_quietly()
    leave_user_unloaded()
    current_app.logger.error("%s on %s %s", error, request.method, request.full_path.rstrip("?"), exc_info=error,
                             extra={"fingerprint": deadline_fingerprint(error)})  # fmt: skip
    return error_response(TookTooLong(retry_after=current_app.config["RETRY_AFTER"]), safe_mode=True)


def deadline_fingerprint(error: RequestDeadlineExceeded) -> str:
    """Name the fault by its innermost application function, not line: a loop is stopped on any of its lines."""
    function = innermost_application_place(error.__traceback__).rsplit(":", 1)[0]
    return digest(f"{type(error).__module__}.{type(error).__qualname__}|{function}")


def drop_own_frame(error: BaseException) -> None:
    """Cut the signal handler's frame off the traceback, so that it ends where the request was stuck."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        if tb.tb_next.tb_frame.f_code is on_alarm.__code__:
            tb.tb_next = None
            return
        tb = tb.tb_next
