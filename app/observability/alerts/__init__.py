"""Alert mails: from app.logger to the admins' inbox without ever holding up a request.

The path runs one way:

    AlertHandler.emit      in the thread that logs: fingerprint; a repeat in a known window is only
                           counted; any other record is captured and submitted
    BackgroundWorker       ../worker.py: one thread per process, a bounded queue
    AlertThrottle.decide   throttle.py: the shared state (../fault_store.py) says mail now, fold, or
                           hold (hourly cap); muted and resolved faults are counted quietly; a
                           regression is mailed
    AlertMailHandler       mail.py: render, scrub, send over SMTP (../smtp.py); a failed delivery is logged

Between records the worker writes the counted repeats to the shared state and sends the
follow-ups whose window has ended. `flask alerts test` sends a test alert the same way.
"""

from __future__ import annotations

import logging
import time

from flask import Flask

from app.observability.alerts.mail import AlertFormatter, AlertMailHandler, capture, follow_up_record
from app.observability.alerts.throttle import AlertThrottle
from app.observability.fault_store import state_store
from app.observability.faults import note_request_fault, release_of
from app.observability.fingerprint import record_fingerprint
from app.observability.logs import install
from app.observability.request_id import current_request_id
from app.observability.scrub import known_secrets
from app.observability.worker import BackgroundWorker

log = logging.getLogger("app.alerts")


def alerts_enabled(app: Flask) -> bool:
    """Mail alerts run when not in debug, with a mail server and admins (and in tests only when asked)."""
    configured = bool(app.config["MAIL_SERVER"] and app.config["ADMINS"])
    return configured and not app.debug and (not app.testing or app.config["LOG_IN_TESTS"])


def init_alerts(app: Flask) -> None:
    """Attach the alert handler to app.logger (closed with the log handlers: at exit, or when the next app is built)."""
    if app.config["MAIL_SERVER"] and not app.config["ADMINS"]:
        app.logger.warning("MAIL_SERVER is set but ADMINS is empty: no alert mail will be sent")
    if alerts_enabled(app):
        throttle = AlertThrottle(state_store(app.config, app.instance_path), app.config["ALERT_WINDOW"],
                                 app.config["ALERTS_PER_HOUR"], release_of(app.config),
                                 app.config["HOST_NAME"])  # fmt: skip
        handler = AlertHandler(mail_handler(app.config), throttle, app.config["ALERT_QUEUE_SIZE"])
        install(app.logger, handler)
        app.extensions["alerts"] = handler


def mail_handler(config) -> AlertMailHandler:
    mailer = AlertMailHandler.from_config(config)
    formatter = AlertFormatter(known_secrets(config), release_of(config), float(config["ALERT_WINDOW"]),
                               config["ENV_NAME"], config["ALERT_PERSONAL_DATA"], config["HOST_NAME"],
                               config["SITE_URL"])  # fmt: skip
    mailer.setFormatter(formatter)
    return mailer


class AlertHandler(logging.Handler):
    """Take ERROR records in the thread that logs them, and mail them from a background worker."""

    def __init__(self, mailer: AlertMailHandler, throttle: AlertThrottle, queue_size: int):
        super().__init__(logging.ERROR)
        self.addFilter(lambda record: not getattr(record, "no_alert", False))
        self.mailer = mailer
        self.throttle = throttle
        self.queue_size = queue_size
        self.worker = BackgroundWorker(self.process, self.between, queue_size, throttle.forget_local, "alert-worker")
        self.round = min(max(throttle.window / 10, 0.05), 5.0)  # how often follow-ups are looked for
        self.next_round = 0.0
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count a known fault's repeat, or capture the record and queue it; never wait."""
        try:
            self.worker.start()  # in a forked child: a thread of its own, and none of the parent's counts
            note_request_fault(record_fingerprint(record))  # the 500 page's feedback form names it
            folded = self.throttle.fold_known(record_fingerprint(record), current_request_id(), record.created)
            if folded is not None:
                if folded:
                    self.worker.wake()
                return
            # Before the capture: a record that cannot be queued should cost nothing more.
            if self.worker.full() or not self.worker.submit(capture(record)):
                self.drop()
        except Exception:
            self.handleError(record)

    def drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1:
            log.warning("Alert queue full (%d records): dropping alerts until it drains", self.queue_size)

    def process(self, record: logging.LogRecord) -> None:
        """In the worker: ask the throttle, and mail the record if it says so."""
        subject = self.mailer.getSubject(record)
        decision = self.throttle.decide(
            record.fingerprint, subject, record.request_id, record.created, record.kind, record.where
        )
        if decision.action in ("mail", "regression"):
            record.fault, record.shared = decision.fault, decision.shared
            record.regression = decision.action == "regression"
            self.mailer.handle(record)
        elif decision.action == "hold":
            held = "Alert held back by the cap of %d mails an hour: %s (request id %s)"
            log.warning(held, self.throttle.per_hour, subject, record.request_id, extra={"no_alert": True})

    def between(self) -> float:
        """In the worker, between records: write due counts; each round, send due follow-ups. Return the wait."""
        self.throttle.write_counts()
        now = time.monotonic()
        if now >= self.next_round:
            self.next_round = now + self.round
            dropped, self.dropped = self.dropped, 0
            if dropped:
                log.warning("Alert queue was full: %d alert record(s) dropped and not mailed", dropped)
            for fault in self.throttle.due_follow_ups():
                self.mailer.handle(follow_up_record(fault))
        write_due = self.throttle.write_due_in()
        wait = self.next_round - time.monotonic()
        return max(0.001, wait if write_due is None else min(wait, write_due))

    def close(self) -> None:
        """Mail what is queued (bounded by the mail timeout), stop the worker, and write every count."""
        if self.worker.running_here():  # else the counts in memory are a forked parent's, which writes them
            self.worker.close(self.mailer.timeout + 1)
            self.throttle.write_counts()  # also when the worker is stuck on a hung relay
        super().close()
