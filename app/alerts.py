"""Alert mails: from app.logger to the admins' inbox without ever holding up a request.

An ERROR record costs its request little. A repeat of a fault whose window this process already
knows is only counted, in memory. Any other record is snapshotted (request, user, the traceback's
frames, nothing scrubbed or rendered yet) and put on a bounded queue. A listener thread takes it,
asks the throttle whether a mail is due, and only then scrubs and renders it and sends it through
an SMTPHandler subclass; it also writes the counted repeats to the shared state in batches, and
sends them as one follow-up when the window ends. `flask alerts test` sends a test alert through
the same mail and transport.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import smtplib
import socket
import ssl
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from logging.handlers import QueueHandler, QueueListener, SMTPHandler
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request, session
from flask.cli import AppGroup

from app.alert_state import (
    AlertThrottle,
    Decision,
    RedisStore,
    SqliteStore,
    Summary,
    record_fingerprint,
    relative_path,
)
from app.logs import one_line, utc_timestamp
from app.models import User
from app.request_id import current_request_id
from app.scrub import known_secrets, scrub_pairs, scrub_text, scrub_url

SUBJECT_PREFIX = "[Microblog]"
SUBJECT_MAX = 120
FIELD_MAX = 500  # a form field or header longer than this is cut in the mail

log = logging.getLogger("app.alerts")
WAKE = object()  # put on the queue to wake the listener: folded repeats are due to be written
_pipelines: weakref.WeakSet[AlertPipeline] = weakref.WeakSet()


def alerts_enabled(app: Flask) -> bool:
    """Mail alerts run when not in debug, with a mail server and admins (and in tests only when asked)."""
    configured = bool(app.config["MAIL_SERVER"] and app.config["ADMINS"])
    return configured and not app.debug and (not app.testing or app.config["LOG_IN_TESTS"])


def init_alerts(app: Flask) -> None:
    """Attach the alert pipeline to app.logger and start its listener; add `flask alerts`."""
    app.cli.add_command(alerts_cli)
    for pipeline in list(_pipelines):  # from an app built earlier in this process (tests)
        pipeline.stop()
    if app.config["MAIL_SERVER"] and not app.config["ADMINS"]:
        app.logger.warning("MAIL_SERVER is set but ADMINS is empty: no alert mail will be sent")
    if alerts_enabled(app):
        pipeline = AlertPipeline.from_app(app)
        pipeline.attach(app.logger)
        pipeline.start()
        app.extensions["alerts"] = pipeline


@dataclass
class MailSettings:
    host: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str
    password: str
    timeout: float
    sender: str
    admins: list[str]
    version: str
    window: float

    @classmethod
    def from_config(cls, config) -> MailSettings:
        from app import __version__  # here, not at the top: app/__init__.py imports this module

        return cls(
            config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_USE_TLS"], config["MAIL_USE_SSL"],
            config["MAIL_USERNAME"], config["MAIL_PASSWORD"], float(config["MAIL_TIMEOUT"]),
            config["ALERTS_SENDER"] or config["MAIL_DEFAULT_SENDER"] or f"no-reply@{socket.gethostname()}",
            list(config["ADMINS"]), __version__, float(config["ALERT_WINDOW"]),
        )  # fmt: skip

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def state_store(app: Flask):
    """Return the shared alert state: Redis when ALERT_STATE_URL is set, else a SQLite file on this host."""
    if app.config["ALERT_STATE_URL"]:
        return RedisStore(app.config["ALERT_STATE_URL"], app.config["ALERT_STATE_PREFIX"])
    path = app.config["ALERT_STATE_PATH"] or Path(app.instance_path) / "alert-state.sqlite3"
    return SqliteStore(path)


class AlertPipeline:
    """The queue, its listener thread and the mail handler of one app, restarted in each process that logs."""

    def __init__(self, handler: AlertMailHandler, queue_size: int):
        self.handler = handler
        self.throttle = handler.throttle
        self.queue_size = queue_size
        self.queue_handler = AlertQueueHandler(self)
        self.tick = min(max(handler.settings.window / 10, 0.05), 5.0)
        self.dropped = 0
        self.logger: logging.Logger | None = None
        self.stopped = False
        self.reset_after_fork()
        _pipelines.add(self)

    @classmethod
    def from_app(cls, app: Flask) -> AlertPipeline:
        settings = MailSettings.from_config(app.config)
        throttle = AlertThrottle(state_store(app), settings.window, app.config["ALERTS_PER_HOUR"], message_id)
        return cls(AlertMailHandler(settings, throttle, known_secrets(app.config)), app.config["ALERT_QUEUE_SIZE"])

    def attach(self, logger: logging.Logger) -> None:
        self.logger = logger
        logger.addHandler(self.queue_handler)

    def reset_after_fork(self) -> None:
        """Forget the listener: a thread does not survive fork, and a lock may have been copied held."""
        self.lock = threading.Lock()
        self.pid: int | None = None
        self.queue: queue.Queue | None = None
        self.listener: AlertListener | None = None
        self.woken = False
        self.throttle.reset_after_fork()

    def start(self) -> None:
        with self.lock:
            if self.pid != os.getpid():
                self.queue = queue.Queue(self.queue_size)
                self.listener = AlertListener(self.queue, self.handler, self, self.tick)
                self.listener.start()
                self.pid = os.getpid()

    def accept(self, record: logging.LogRecord, prepare: Callable[[logging.LogRecord], logging.LogRecord]) -> None:
        """Count a known fault's repeat in memory, or queue the prepared record; never wait."""
        if self.stopped:
            return
        if self.pid != os.getpid():
            self.start()  # the first alert in a process forked after the app was built
        fingerprint = record_fingerprint(record)
        if self.throttle.fold_locally(fingerprint, current_request_id(), record.created):
            if self.throttle.write_due_in(record.created, fingerprint) == 0:
                self.wake()
            return
        if self.queue.full():  # before the snapshot: a record that cannot be queued should cost nothing more
            self.drop()
            return
        try:
            self.queue.put_nowait(prepare(record))
        except queue.Full:
            self.drop()

    def drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1:
            log.warning("Alert queue full (%d records): dropping alerts until it drains", self.queue_size)

    def wake(self) -> None:
        """Have the listener write the folded repeats now; one wake-up waits on the queue at most."""
        if self.woken:
            return
        self.woken = True
        try:
            self.queue.put_nowait(WAKE)
        except queue.Full:
            pass  # the listener is busy with records, and writes what is due between them

    def report_dropped(self) -> None:
        dropped, self.dropped = self.dropped, 0
        if dropped:
            log.warning("Alert queue was full: %d alert record(s) dropped and not mailed", dropped)

    def stop(self) -> None:
        """Detach from the logger, mail what is queued (bounded by the mail timeout) and stop the listener."""
        _pipelines.discard(self)
        self.stopped = True
        if self.logger is not None:
            self.logger.removeHandler(self.queue_handler)
        if self.listener is not None and self.pid == os.getpid():
            self.listener.stop_within(self.handler.settings.timeout + 1)
        self.handler.write_repeats(everything=True)  # also when the listener is stuck on a hung relay
        self.listener = None
        self.pid = None


def stop_all_pipelines() -> None:
    for pipeline in list(_pipelines):
        pipeline.stop()


def reset_pipelines_after_fork() -> None:
    for pipeline in list(_pipelines):
        pipeline.reset_after_fork()


atexit.register(stop_all_pipelines)
os.register_at_fork(after_in_child=reset_pipelines_after_fork)


class AlertQueueHandler(QueueHandler):
    """In the thread that logs: count a known fault's repeat, or snapshot the record and queue it."""

    def __init__(self, pipeline: AlertPipeline):
        super().__init__(None)
        self.pipeline = pipeline
        self.setLevel(logging.ERROR)
        self.addFilter(lambda record: not getattr(record, "no_alert", False))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.pipeline.accept(record, self.prepare)
        except Exception:
            self.handleError(record)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        snapshot = take_snapshot(record)
        prepared = logging.makeLogRecord({**record.__dict__, "args": None, "exc_info": None, "exc_text": None})
        prepared.msg = snapshot.message
        prepared.snapshot = snapshot
        return prepared


class AlertListener(QueueListener):
    """A QueueListener that between records writes folded repeats when due and sends due follow-ups."""

    def __init__(self, q: queue.Queue, handler: AlertMailHandler, pipeline: AlertPipeline, tick: float):
        super().__init__(q, handler, respect_handler_level=False)
        self.mail_handler = handler
        self.pipeline = pipeline
        self.tick = tick
        self.next_round = time.monotonic() + tick

    def start(self) -> None:
        super().start()
        self._thread.name = "alert-listener"

    def dequeue(self, block: bool):
        while True:
            self.mail_handler.write_repeats()
            if time.monotonic() >= self.next_round:
                self.pipeline.report_dropped()
                self.mail_handler.send_due_summaries()
                self.next_round = time.monotonic() + self.tick
            try:
                record = self.queue.get(timeout=self.wait())
            except queue.Empty:
                continue
            if record is WAKE:
                self.pipeline.woken = False
            elif record is self._sentinel:
                self.mail_handler.write_repeats(everything=True)
                return record
            else:
                return record

    def wait(self) -> float:
        """Return how long the queue may stay quiet: until the next round, or until repeats are due."""
        wait = self.next_round - time.monotonic()
        write_due = self.mail_handler.throttle.write_due_in()
        return max(0.001, wait if write_due is None else min(wait, write_due))

    def stop_within(self, timeout: float) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self.queue.put(self._sentinel, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)


class AlertMailHandler(SMTPHandler):
    """Mail alerts as the throttle allows, over STARTTLS or implicit TLS; log (never mail) a failed delivery."""

    def __init__(self, settings: MailSettings, throttle: AlertThrottle, secrets: list[str]):
        credentials = (settings.username, settings.password) if settings.username else None
        super().__init__(
            (settings.host, settings.port), settings.sender, settings.admins, SUBJECT_PREFIX,
            credentials=credentials, secure=() if settings.use_tls else None, timeout=settings.timeout,
        )  # fmt: skip
        self.settings = settings
        self.throttle = throttle
        self.secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        try:
            snapshot = getattr(record, "snapshot", None) or take_snapshot(record)
            if not self.throttle.fold_locally(snapshot.fingerprint, snapshot.request_id, snapshot.created):
                self.decide(snapshot)
        except Exception:
            log.exception("Alert not handled", extra={"no_alert": True})

    def decide(self, snapshot: Snapshot) -> None:
        """Ask the shared state about an occurrence; scrub, render and mail it only if it is due."""
        subject = alert_subject(snapshot, self.secrets)
        decision = self.throttle.occurrence(snapshot.fingerprint, subject, snapshot.request_id, snapshot.created)
        if decision.send:
            alert = make_alert(snapshot, self.secrets)
            alert.shared_throttle = decision.shared
            self.deliver(alert_mail(alert, decision, self.settings), [alert.request_id])
        elif decision.reason == "capped":
            held = "Alert held back by the cap of %d mails an hour: %s (request id %s)"
            log.warning(held, self.throttle.per_hour, subject, snapshot.request_id, extra={"no_alert": True})

    def write_repeats(self, everything: bool = False) -> None:
        try:
            self.throttle.write_repeats(everything=everything)
        except Exception:
            log.exception("Alert repeats not counted", extra={"no_alert": True})

    def send_due_summaries(self) -> None:
        try:
            for summary in self.throttle.due_summaries():
                self.deliver(summary_mail(summary, self.settings), summary.request_ids)
        except Exception:
            log.exception("Alert follow-ups not handled", extra={"no_alert": True})

    def deliver(self, message: EmailMessage, request_ids: list[str]) -> None:
        try:
            send_mail(self.settings, message)
        except Exception as error:
            log.error(
                "Alert mail not delivered via %s: %s: %s (subject %r, request ids: %s)",
                self.settings.address, type(error).__name__, error, message["Subject"], ", ".join(request_ids),
                extra={"no_alert": True},
            )  # fmt: skip


def send_mail(settings: MailSettings, message: EmailMessage) -> None:
    """Send one message now: implicit TLS (MAIL_USE_SSL) or STARTTLS (MAIL_USE_TLS), then login if configured."""
    context = ssl.create_default_context()
    if settings.use_ssl:
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        if settings.use_tls and not settings.use_ssl:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password)
        smtp.send_message(message)


@dataclass
class Alert:
    """Everything a mail needs, captured in the thread that logged the record."""

    message: str
    subject: str
    fingerprint: str
    request_id: str
    created: float
    logger: str
    place: str
    host: str
    pid: int
    traceback: str = ""
    request: dict[str, str] = field(default_factory=dict)
    form: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    cookies: list[tuple[str, str]] = field(default_factory=list)
    shared_throttle: bool = True


@dataclass
class Snapshot:
    """A record's facts as the thread that logged it saw them: cheap to take, not yet scrubbed or rendered.

    The traceback is kept as a TracebackException: its frames' places, not the frames, so that a
    queued record keeps no request's objects alive; its text is rendered only for a mail.
    """

    message: str
    error: traceback.TracebackException | None
    error_text: str  # str() of the exception, for the subject
    fingerprint: str
    request_id: str
    created: float
    logger: str
    place: str
    pid: int
    request: dict[str, str] = field(default_factory=dict)
    form: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    cookies: list[tuple[str, str]] = field(default_factory=list)


def take_snapshot(record: logging.LogRecord) -> Snapshot:
    exc = record.exc_info[1] if record.exc_info else None
    snapshot = Snapshot(
        message=record.getMessage(),
        error=traceback.TracebackException.from_exception(exc, compact=True, lookup_lines=False) if exc else None,
        error_text=str(exc) if exc else "",
        fingerprint=record_fingerprint(record),
        request_id=current_request_id(),
        created=record.created,
        logger=record.name,
        place=f"{relative_path(record.pathname)}:{record.lineno}",
        pid=os.getpid(),
    )
    if has_request_context():
        snapshot_request(snapshot)
    return snapshot


def snapshot_request(snapshot: Snapshot) -> None:
    """Copy the request's facts; the listener thread has no request context."""
    snapshot.request = {
        "Method": request.method,
        "URL": request.url,
        "Endpoint": request.endpoint or "-",
        "Client": request.remote_addr or "-",
        "User agent": request.user_agent.string or "-",
        "Referer": request.referrer or "-",
        "User": logged_in_user(),
        "Request id": snapshot.request_id,
    }
    snapshot.form = form_items()
    snapshot.headers = list(request.headers.items())
    snapshot.cookies = list(request.cookies.items(multi=True))


def make_alert(snapshot: Snapshot, secrets: list[str]) -> Alert:
    """Scrub a snapshot and render its traceback: the alert as the mail shows it."""
    alert = Alert(
        message=scrub_text(snapshot.message, secrets),
        subject=alert_subject(snapshot, secrets),
        fingerprint=snapshot.fingerprint,
        request_id=snapshot.request_id,
        created=snapshot.created,
        logger=snapshot.logger,
        place=snapshot.place,
        host=socket.gethostname(),
        pid=snapshot.pid,
        traceback=scrub_text("".join(snapshot.error.format()), secrets) if snapshot.error else "",
        form=cut(scrub_pairs(snapshot.form)),
        headers=cut(scrub_pairs(snapshot.headers)),
        cookies=cut(scrub_pairs(snapshot.cookies)),
    )
    if snapshot.request:
        referer = snapshot.request["Referer"]
        alert.request = {
            **snapshot.request,
            "URL": scrub_text(scrub_url(snapshot.request["URL"]), secrets),
            "Referer": scrub_url(referer) if referer != "-" else "-",
        }
    return alert


def alert_subject(snapshot: Snapshot, secrets: list[str]) -> str:
    if snapshot.error:
        return mail_subject(f"{snapshot.error.exc_type.__name__}: {scrub_text(snapshot.error_text, secrets)}")
    return mail_subject(scrub_text(snapshot.message, secrets))


def capture_alert(record: logging.LogRecord, secrets: list[str]) -> Alert:
    """Snapshot a record and make its alert at once (`flask alerts test`)."""
    return make_alert(take_snapshot(record), secrets)


def form_items() -> list[tuple[str, str]]:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return []
    try:
        return list(request.form.items(multi=True))
    except Exception:  # the body itself may be what failed (too large, cut off)
        return [("(form)", "unreadable")]


def logged_in_user() -> str:
    """Name the logged-in user without a query: the id from the session, the name only if already loaded."""
    user_id = session.get("_user_id")
    if not user_id:
        return "anonymous"
    user = g.get("_login_user")
    try:
        state = sa.inspect(user)  # never loads anything: the database may be the fault
        username = state.dict.get("username") or state.info.get("username")
    except Exception:
        username = None
    return f"{user_id} ({username})" if username else str(user_id)


@sa.event.listens_for(User, "load")
@sa.event.listens_for(User, "refresh")
def remember_username(user: User, *context) -> None:
    """Keep the name where a commit's expiry does not reach, for an alert raised later in the request."""
    sa.inspect(user).info["username"] = user.__dict__.get("username")


def cut(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, cut_text(value, FIELD_MAX)) for name, value in pairs]


def mail_subject(text: str) -> str:
    """Return `[Microblog] text` on one line (no CR, LF or runs of blanks), at most SUBJECT_MAX characters."""
    return cut_text(" ".join(f"{SUBJECT_PREFIX} {text}".split()), SUBJECT_MAX)


def cut_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."  # ASCII: a mail client unfolds it unchanged


def message_id(fingerprint: str) -> str:
    return make_msgid(idstring=fingerprint, domain=socket.gethostname())


def new_message(settings: MailSettings, subject: str, message_id: str, in_reply_to: str | None) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.admins)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    return message


def alert_mail(alert: Alert, decision: Decision, settings: MailSettings) -> EmailMessage:
    message = new_message(settings, alert.subject, decision.message_id, decision.in_reply_to)
    message["X-Microblog-Fingerprint"] = alert.fingerprint
    message["X-Request-ID"] = alert.request_id
    message.set_content(alert_body(alert, settings))
    return message


def alert_body(alert: Alert, settings: MailSettings) -> str:
    where = {
        "Time (UTC)": utc_timestamp(alert.created),
        "Host": f"{alert.host} (pid {alert.pid})",
        "Version": f"Microblog {settings.version}",
        "Fingerprint": alert.fingerprint,
        "Occurrences": f"1, the first in this window; repeats in the next {duration(settings.window)} "
        "are counted and mailed as one follow-up",
        "Logged by": f"{alert.logger} at {alert.place}",
    }
    if not alert.shared_throttle:
        where["Throttle"] = "shared state unavailable: this process decided alone, other workers may mail too"
    sections = [one_line(alert.message), block("Request", alert.request), block("Where and when", where)]
    sections += [block(title, dict(pairs)) for title, pairs in alert_pairs(alert) if pairs]
    if alert.traceback:
        sections.append("Traceback\n" + alert.traceback.rstrip())
    return "\n\n".join(section for section in sections if section) + "\n"


def alert_pairs(alert: Alert):
    return (("Form", alert.form), ("Headers", alert.headers), ("Cookies", alert.cookies))


def block(title: str, rows: dict[str, str]) -> str:
    if not rows:
        return ""
    width = max(len(name) for name in rows) + 1
    return title + "\n" + "\n".join(f"  {name + ':':<{width}} {one_line(str(value))}" for name, value in rows.items())


def summary_mail(summary: Summary, settings: MailSettings) -> EmailMessage:
    message = new_message(settings, "Re: " + summary.subject, summary.message_id, summary.in_reply_to)
    message["X-Microblog-Fingerprint"] = summary.fingerprint
    message.set_content(summary_body(summary, settings))
    return message


def summary_body(summary: Summary, settings: MailSettings) -> str:
    times = f"between {utc_timestamp(summary.first)} and {utc_timestamp(summary.last)} (UTC)"
    fault = summary.subject.removeprefix(SUBJECT_PREFIX + " ")
    if summary.first_mailed:
        headline = f"{fault} occurred {summary.count} more times {times}."
    else:
        headline = f"{fault} occurred {summary.count} times {times}; the hourly cap held back its first mail."
    details = {
        "Fingerprint": summary.fingerprint,
        "Latest request ids": ", ".join(summary.request_ids) or "-",
        "Sent by": f"{socket.gethostname()} (pid {os.getpid()}), Microblog {settings.version}",
        "Next": f"further repeats are counted for another {duration(settings.window)}",
    }
    return f"{headline}\n\n{block('Details', details)}\n\nThe first mail of this thread has the traceback.\n"


def duration(seconds: float) -> str:
    """Say a window's length the way a person would: "10 minutes", "1 second"."""
    amount, unit = (seconds / 60, "minute") if seconds >= 60 and seconds % 60 == 0 else (seconds, "second")
    return f"{amount:g} {unit}{'' if amount == 1 else 's'}"


alerts_cli = AppGroup("alerts", help="Check the alert mail.")


@alerts_cli.command("test")
def send_test_alert() -> None:
    """Send a test alert to ADMINS now, through the same mail and SMTP transport as real alerts."""
    settings = MailSettings.from_config(current_app.config)
    if not settings.host or not settings.admins:
        raise click.ClickException("Set MAIL_SERVER and ADMINS first (for local development: make mailserver).")
    try:
        raise RuntimeError("Test alert from `flask alerts test`: if you read this, alert mail works")
    except RuntimeError:
        record = logging.LogRecord("app.alerts", logging.ERROR, __file__, 0, "Test alert", None, sys.exc_info())
    alert = capture_alert(record, known_secrets(current_app.config))
    decision = Decision(send=True, reason="test", message_id=message_id(alert.fingerprint))
    try:
        send_mail(settings, alert_mail(alert, decision, settings))
    except Exception as error:
        click.echo(f"Could not send the test alert via {settings.address}: {type(error).__name__}: {error}", err=True)
        click.echo(f"Hint: {delivery_hint(error, settings)}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Sent a test alert to {', '.join(settings.admins)} via {settings.address}.")


def delivery_hint(error: Exception, settings: MailSettings) -> str:
    """Say what most likely went wrong, in the settings' terms."""
    text = str(error).lower()
    if isinstance(error, smtplib.SMTPNotSupportedError) and "starttls" in text:
        return "the server does not offer STARTTLS: unset MAIL_USE_TLS, or use MAIL_USE_SSL=1 for a port like 465."
    if isinstance(error, smtplib.SMTPNotSupportedError) and "auth" in text:
        return "the server does not offer login here: unset MAIL_USERNAME, or turn on MAIL_USE_TLS (many need TLS)."
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return "the server refused MAIL_USERNAME/MAIL_PASSWORD."
    if isinstance(error, ssl.SSLError):
        return "the TLS handshake failed: MAIL_USE_SSL is for implicit TLS (465); port 587 wants MAIL_USE_TLS."
    if isinstance(error, ConnectionRefusedError):
        return f"nothing listens on {settings.address}; check MAIL_SERVER and MAIL_PORT (local: make mailserver)."
    if isinstance(error, TimeoutError | socket.timeout | smtplib.SMTPServerDisconnected):
        return f"the server did not answer within MAIL_TIMEOUT={settings.timeout:g} s; wrong port or TLS setting?"
    if isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused):
        return "the server refused the sender or the recipients: check ALERTS_SENDER and ADMINS."
    return "check MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL and the credentials."
