"""The site's own mail to its users (password reset, registration), sent off the request path.

A request renders the message and queues it; one background thread per process (the same
BackgroundWorker as the alert mails') delivers it. A relay that is down or slow costs the request nothing:
the failure is logged, and the page has already told the user to try again if nothing arrives.
"""

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from flask import Flask, current_app, render_template

from app.observability.smtp import smtp_session
from app.observability.worker import BackgroundWorker

log = logging.getLogger("app.mail")


@dataclass(frozen=True)
class Relay:
    """Where and how to hand mail over: the MAIL_* settings."""

    host: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str
    password: str
    timeout: float

    @classmethod
    def from_config(cls, config) -> "Relay":
        return cls(
            host=config["MAIL_SERVER"],
            port=config["MAIL_PORT"],
            use_tls=config["MAIL_USE_TLS"],
            use_ssl=config["MAIL_USE_SSL"],
            username=config["MAIL_USERNAME"],
            password=config["MAIL_PASSWORD"],
            timeout=config["MAIL_TIMEOUT"],
        )

    def send(self, message: EmailMessage) -> None:
        """Send one message now: implicit TLS or STARTTLS as configured, then log in if there are credentials."""
        credentials = (self.username, self.password) if self.username else None
        with smtp_session(self.host, self.port, self.use_ssl, self.use_tls, credentials, self.timeout) as smtp:
            smtp.send_message(message)


class Outbox:
    """A bounded queue of messages and the thread that delivers them."""

    def __init__(self, relay: Relay, sender: str, queue_size: int):
        self.relay, self.sender = relay, sender
        self.worker = BackgroundWorker(self.deliver, lambda: 1.0, queue_size, on_start=no_op, name="mail-worker")

    def can_send(self) -> bool:
        """Tell whether a message queued now will be sent: a relay is set and the queue has room."""
        return bool(self.relay.host) and not self.worker.full()

    def send(self, message: EmailMessage, about: str) -> bool:
        """Queue `message`; `about` names it in the log (never the address or the content). False if full."""
        message["From"] = self.sender
        return self.worker.submit((message, about))

    def deliver(self, item: tuple[EmailMessage, str]) -> None:
        message, about = item
        try:
            self.relay.send(message)
        except (OSError, smtplib.SMTPException) as error:
            # The relay's answer only: the message holds a reset link, and the address is personal data.
            log.error("Could not send the %s mail: %s", about, describe(error), extra={"no_alert": True})
        else:
            log.info("Sent the %s mail", about)

    def flush(self, timeout: float) -> bool:
        return self.worker.flush(timeout) if self.worker.running_here() else True

    def close(self, timeout: float) -> None:
        self.worker.close(timeout)


def no_op() -> None:
    return None


def describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"the relay answered {error.smtp_code}"
    return f"{type(error).__name__}: {error.strerror or error}" if isinstance(error, OSError) else type(error).__name__


def init_app(app: Flask) -> None:
    sender = app.config["MAIL_DEFAULT_SENDER"]  # config.settle's default: no-reply at the site's host
    app.extensions["mail"] = Outbox(Relay.from_config(app.config), sender, app.config["ACCOUNT_MAIL_QUEUE_SIZE"])


def outbox() -> Outbox:
    return current_app.extensions["mail"]


def can_send() -> bool:
    return outbox().can_send()


def send_mail(to: str, subject: str, template: str, about: str, **context: Any) -> bool:
    """Render app/templates/auth/email/<template>.txt for `to` and queue it; return False if it cannot go."""
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject
    message.set_content(render_template(f"auth/email/{template}.txt", **context))
    return outbox().send(message, about)
