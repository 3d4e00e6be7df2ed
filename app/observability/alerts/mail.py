"""Alert mail: a log record captured in the request thread, rendered and sent in the background.

`capture` copies what a mail needs while the request is still there: its facts and the places
of the traceback's frames, nothing scrubbed or rendered yet and no frame kept alive.
`AlertFormatter` renders the body, scrubbing as it goes; `AlertMailHandler`, an SMTPHandler,
adds the subject and the thread's headers and sends it.

What came with the request cannot forge the mail: names and values are escaped to one line each, the
URL names the configured SITE_URL (never the client's Host header), and personal data (email
addresses, the client's address, the user agent) is cut down to what on-call needs unless
ALERT_PERSONAL_DATA is on. The body goes out as 8bit text, so a request id is never split by a
quoted-printable line break and `grep` finds it in the raw mail.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
import traceback
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from logging.handlers import SMTPHandler

from flask import current_app, has_request_context, request

from app.observability.fault_store import Fault
from app.observability.fingerprint import (
    innermost_application_place,
    innermost_package_place,
    record_fingerprint,
    relative_path,
)
from app.observability.logs import escape_controls, one_line, utc_timestamp
from app.observability.request_id import current_request_id, current_user_label
from app.observability.scrub import (
    browser_summary,
    mask_address,
    mask_cookies,
    mask_emails,
    mask_personal,
    request_secrets,
    scrub_pairs,
    scrub_text,
    scrub_url,
)
from app.observability.smtp import smtp_session

SUBJECT_PREFIX = "[Microblog"  # "[Microblog production web-1] ...": the environment and the host follow
SUBJECT_MAX = 120
SQL_TAILS = re.compile(r"\s*(\[SQL: |\(Background on this error at: ).*")  # SQLAlchemy's: the body keeps them
ADMIN_PAGE = "/admin/errors"  # app/admin/routes.py serves it; its rows are #fault-<fingerprint>
FIELD_MAX = 500  # a form field or header longer than this is cut in the mail
LINE_MAX = 998  # SMTP's limit on a line, in bytes; a longer body goes out quoted-printable
MAIL_POLICY = policy.default.clone(max_line_length=LINE_MAX)  # a subject (at most SUBJECT_MAX) is never folded

log = logging.getLogger("app.alerts")


def capture(record: logging.LogRecord) -> logging.LogRecord:
    """Return a copy of `record` that carries the request's facts and the traceback's places, not its frames."""
    exc = record.exc_info[1] if record.exc_info else None
    plain = {"msg": record.getMessage(), "args": None, "exc_info": None, "exc_text": None}
    captured = logging.makeLogRecord({**record.__dict__, **plain})
    captured.error = traceback.TracebackException.from_exception(exc, compact=True, lookup_lines=False) if exc else None
    captured.error_text = str(exc) if exc else ""
    captured.fingerprint = record_fingerprint(record)
    captured.kind = type(exc).__name__ if exc else ""
    here = f"{relative_path(record.pathname)}:{record.funcName}:{record.lineno}"
    captured.where = innermost_application_place(exc.__traceback__) if exc else here
    captured.app_place = (innermost_package_place(exc.__traceback__) or captured.where) if exc else here
    captured.request_id = current_request_id() if has_request_context() else getattr(record, "request_id", "-")
    captured.request, captured.form, captured.headers, captured.cookies = request_facts()
    if not captured.request:  # a request reported from outside it (a dead worker's, by gunicorn's master)
        captured.request = getattr(record, "request_facts", {})
    captured.secrets = request_secrets()  # masked wherever they appear, even inside the exception's text
    return captured


def request_facts() -> tuple[dict[str, str], list, list, list]:
    """Copy the request's facts (the worker thread has no request context); all empty outside a request."""
    if not has_request_context():
        return {}, [], [], []
    facts = {
        "Method": request.method,
        "URL": site_url(),
        "Endpoint": request.endpoint or "-",
        "Client": request.remote_addr or "-",
        "User agent": request.user_agent.string or "-",
        "Referer": request.referrer or "-",
        "User": current_user_label(),
        "Reference": current_request_id(),  # the word the error page uses
    }
    # Cookies are masked as they are taken: their values never reach the record, the queue or the worker.
    return facts, form_items(), list(request.headers.items()), mask_cookies(request.cookies.items(multi=True))


def site_url() -> str:
    """Return the request's URL on the configured SITE_URL (the path alone without one), never on the Host
    header the client sent: a forged Host would make the mail link wherever the client wants. The same rule
    as app/templating.py's site_url_for (SITE_URL's scheme, host and path, then the path in the app), which
    this layer does not import."""
    path = request.full_path if request.query_string else request.path
    return current_app.config["SITE_URL"].rstrip("/") + path


def form_items() -> list[tuple[str, str]]:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return []
    try:
        return list(request.form.items(multi=True))
    except Exception:  # the body itself may be what failed (too large, cut off)
        return [("(form)", "unreadable")]


def follow_up_record(fault: Fault) -> logging.LogRecord:
    """Return the record of a follow-up mail: the repeats of `fault` folded during its window."""
    facts = {"msg": fault.subject, "fault": fault, "follow_up": True, "request_id": ", ".join(fault.request_ids)}
    return logging.makeLogRecord({"name": log.name, "levelno": logging.ERROR, "levelname": "ERROR", **facts})


class AlertFormatter(logging.Formatter):
    """Render a captured record (or a follow-up) as a mail's subject and body, with secrets masked."""

    def __init__(self, secrets: list[str], version: str, window: float, environment: str = "", personal: bool = False,
                 host: str = "", site_url: str = ""):  # fmt: skip
        super().__init__()
        self.secrets, self.version, self.window, self.site_url = secrets, version, window, site_url.rstrip("/")
        self.host = host or socket.gethostname()  # HOST_NAME: the same name as the log's
        self.prefix = " ".join([SUBJECT_PREFIX, *environment.split()[:1], self.host]) + "]"
        self.personal = personal  # show email addresses, the client's address and the user agent as sent

    def subject(self, record: logging.LogRecord) -> str:
        if getattr(record, "follow_up", False):
            return "Re: " + record.fault.subject
        text = f"{record.error.exc_type.__name__}: {headline(record.error_text)}" if record.error else record.msg
        if getattr(record, "fault_name", None):  # a fault grouped by its meaning, such as "Database unavailable"
            text = f"{record.fault_name}: {text}"
        if getattr(record, "regression", False):
            text = "Regression: " + text
        return mail_subject(self.prefix, self.keep_personal(self.scrub(text, record)))

    def format(self, record: logging.LogRecord) -> str:
        follow_up = getattr(record, "follow_up", False)
        return self.keep_personal(self.follow_up_body(record.fault) if follow_up else self.alert_body(record))

    def keep_personal(self, text: str) -> str:
        """Mask email addresses anywhere in the text, unless on-call is to see personal data."""
        return text if self.personal else mask_emails(text)

    def alert_body(self, record: logging.LogRecord) -> str:
        where = {
            "Where": place(record.app_place),
            "Time (UTC)": utc_timestamp(record.created),
            "Host": f"{self.host} (pid {record.process})",
            "Version": f"Microblog {self.version}",
            "Fingerprint": record.fingerprint,
            "Occurrences": f"1, the first in this window; repeats in the next {duration(self.window)} "
            "are counted and mailed as one follow-up",
            "Logger": record.name,
        }
        if not record.shared:
            where["Throttle"] = "shared state unavailable: this process decided alone, other workers may mail too"
        sections = [one_line(self.scrub(record.msg, record)), block("Request", self.scrubbed_request(record))]
        if getattr(record, "regression", False):
            fault = record.fault
            sections.insert(0, f"Regression: resolved in release {fault.resolved_in}, back in release {self.version}.")
        sections.append(block("Where and when", where))
        sections.append(block("More on this fault", {"Command": f"flask errors show {record.fingerprint}",
                              "Admin page": f"{self.site_url}{ADMIN_PAGE}#fault-{record.fingerprint}"}))  # fmt: skip
        if record.error:
            sections.append(
                "Traceback\n" + escape_controls(self.scrub("".join(record.error.format()), record)).rstrip()
            )
        if record.stack_info:  # where a request was stuck when its worker was aborted
            sections.append(escape_controls(self.scrub(record.stack_info, record)).rstrip())
        sections.append(feedback_block(record.fault))
        for title, pairs in (("Form", record.form), ("Headers", record.headers), ("Cookies", record.cookies)):
            pairs = pairs if self.personal else mask_personal(pairs)
            sections.append(block(title, dict(cut(scrub_pairs(pairs)))))
        return "\n\n".join(section for section in sections if section) + "\n"

    def scrubbed_request(self, record: logging.LogRecord) -> dict[str, str]:
        facts = record.request
        if "URL" not in facts:
            return {name: self.scrub(str(value), record) for name, value in facts.items()}
        referer = scrub_url(facts["Referer"], keep_personal=self.personal) if facts["Referer"] != "-" else "-"
        url = scrub_url(facts["URL"], keep_personal=self.personal)
        facts = {**facts, "URL": self.scrub(url, record), "Referer": referer}
        if not self.personal:
            facts["Client"] = mask_address(facts["Client"])
            facts["User agent"] = browser_summary(facts["User agent"])
        return facts

    def follow_up_body(self, fault: Fault) -> str:
        times = f"between {utc_timestamp(fault.repeats_from)} and {utc_timestamp(fault.repeats_until)} (UTC)"
        name = fault.subject.split("] ", 1)[-1] if fault.subject.startswith(SUBJECT_PREFIX) else fault.subject
        if fault.first_mailed:
            headline = f"{name} occurred {fault.repeats} more times {times}."
        else:
            headline = f"{name} occurred {fault.repeats} times {times}; the hourly cap held back its first mail."
        details = {
            "Fingerprint": fault.fingerprint,
            "Latest request ids": ", ".join(fault.request_ids) or "-",
            "Sent by": f"{self.host}, Microblog {self.version}",
            "Next": f"further repeats are counted for another {duration(self.window)}",
        }
        feedback = feedback_block(fault)
        feedback = f"\n\n{feedback}" if feedback else ""
        return (
            f"{headline}\n\n{block('Details', details)}{feedback}\n\nThe first mail of this thread has the traceback.\n"
        )

    def scrub(self, text: str, record: logging.LogRecord) -> str:
        return scrub_text(text, self.secrets + getattr(record, "secrets", []))


class AlertMailHandler(SMTPHandler):
    """Mail a rendered alert over SMTP, STARTTLS (`secure`) or implicit TLS; log, never mail, a failure.

    The first mail of a fault starts a thread that every later mail of it replies to.
    """

    def __init__(self, mailhost, fromaddr, toaddrs, credentials=None, secure=None, timeout=10.0, use_ssl=False):
        super().__init__(mailhost, fromaddr, toaddrs, SUBJECT_PREFIX, credentials, secure, timeout)
        self.use_ssl = use_ssl

    @classmethod
    def from_config(cls, config) -> AlertMailHandler:
        return cls(
            (config["MAIL_SERVER"], config["MAIL_PORT"]),
            config["ALERTS_SENDER"] or config["MAIL_DEFAULT_SENDER"],  # config.settle gives the latter a default
            list(config["ADMINS"]),
            credentials=(config["MAIL_USERNAME"], config["MAIL_PASSWORD"]) if config["MAIL_USERNAME"] else None,
            secure=() if config["MAIL_USE_TLS"] else None,
            timeout=float(config["MAIL_TIMEOUT"]),
            use_ssl=config["MAIL_USE_SSL"],
        )

    @property
    def address(self) -> str:
        return f"{self.mailhost}:{self.mailport}"

    def getSubject(self, record: logging.LogRecord) -> str:  # noqa: N802 (SMTPHandler's name)
        return self.formatter.subject(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.send(self.message(record))
        except Exception:
            self.handleError(record)

    def message(self, record: logging.LogRecord) -> EmailMessage:
        fault: Fault = record.fault
        domain = self.fromaddr.rpartition("@")[2] or "microblog"
        thread = f"<{fault.fingerprint}.{int(fault.first_seen * 1000)}@{domain}>"  # the same on every host
        message = EmailMessage(policy=MAIL_POLICY)
        message["Subject"] = self.getSubject(record)
        message["From"] = self.fromaddr
        message["To"] = ", ".join(self.toaddrs)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(fault.fingerprint, domain) if fault.mailed else thread
        if fault.mailed:
            message["In-Reply-To"] = message["References"] = thread
        message["X-Microblog-Fingerprint"] = fault.fingerprint
        if not getattr(record, "follow_up", False):
            message["X-Request-ID"] = record.request_id
        body = self.format(record)
        fits = all(len(line.encode()) <= LINE_MAX for line in body.splitlines())
        message.set_content(body, cte="8bit" if fits else "quoted-printable")
        return message

    def send(self, message: EmailMessage) -> None:
        """Send one message now, in 8 bits where the relay takes them (a request id is then never split)."""
        starttls = self.secure is not None
        credentials = (self.username, self.password) if self.username else None  # SMTPHandler's attributes
        with smtp_session(self.mailhost, self.mailport, self.use_ssl, starttls, credentials, self.timeout) as smtp:
            smtp.ehlo_or_helo_if_needed()
            options = []
            if message["Content-Transfer-Encoding"] == "8bit":
                if smtp.has_extn("8bitmime"):
                    options.append("BODY=8BITMIME")
                else:  # a relay that takes 7-bit only: the long way round, with soft line breaks
                    message.set_content(message.get_content(), cte="quoted-printable")
            smtp.send_message(message, mail_options=options)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        error = sys.exc_info()[1]
        log.error(
            "Alert mail not delivered via %s: %s: %s (subject %r, request ids: %s)",
            self.address, type(error).__name__, error, self.getSubject(record), record.request_id,
            extra={"no_alert": True},
        )  # fmt: skip


def feedback_block(fault: Fault | None) -> str:
    """Return what users wrote from the 500 page since the fault's last mail (already scrubbed when stored)."""
    entries = fault.pending_feedback() if fault else []
    if not entries:
        return ""
    lines = [
        f"  {utc_timestamp(entry['at'])} request {entry['request_id']}: {one_line(entry['text'])}" for entry in entries
    ]
    return "Feedback from users (flask errors show " + fault.fingerprint + ")\n" + "\n".join(lines)


def block(title: str, rows: dict[str, str]) -> str:
    """Lay out `name: value` rows, aligned; names and values (a client's, often) are escaped to one line each."""
    if not rows:
        return ""
    rows = {one_line(str(name)): one_line(str(value)) for name, value in rows.items()}
    width = max(len(name) for name in rows) + 1
    return title + "\n" + "\n".join(f"  {name + ':':<{width}} {value}" for name, value in rows.items())


def place(where: str) -> str:
    """Say `path:function:line` as `path:line in function`, the way a reader looks it up."""
    path, _, rest = where.partition(":")
    function, _, line = rest.rpartition(":")
    return f"{path}:{line} in {function}" if function and line.isdigit() else where


def cut(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, cut_text(value, FIELD_MAX)) for name, value in pairs]


def headline(text: str) -> str:
    """Return an exception's first line without SQLAlchemy's statement and link: the subject's part of it."""
    return SQL_TAILS.sub("", next((line for line in text.splitlines() if line.strip()), ""))


def mail_subject(prefix: str, text: str) -> str:
    """Return `prefix text` on one line (no line break, control character or run of blanks), at most SUBJECT_MAX."""
    return cut_text(one_line(" ".join(f"{prefix} {text}".split())), SUBJECT_MAX)


def cut_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."  # ASCII dots: a mail client unfolds them unchanged


def duration(seconds: float) -> str:
    """Say a window's length the way a person would: "10 minutes", "1 second"."""
    amount, unit = (seconds / 60, "minute") if seconds >= 60 and seconds % 60 == 0 else (seconds, "second")
    return f"{amount:g} {unit}{'' if amount == 1 else 's'}"
