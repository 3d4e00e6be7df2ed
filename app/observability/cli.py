"""`flask alerts test`: send a test alert through the same mail and SMTP transport as real alerts.

`flask errors`: the operator's error tools; the web side adds `flask errors pages` (app/cli.py).
"""

import logging
import smtplib
import socket
import ssl
import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.observability.alerts import mail_handler
from app.observability.alerts.mail import AlertMailHandler, capture
from app.observability.alerts.throttle import Fault

alerts_cli = AppGroup("alerts", help="Check the alert mail.")
errors_cli = AppGroup("errors", help="The operator's error tools.")


@alerts_cli.command("test")
def send_test_alert() -> None:
    """Send a test alert to ADMINS now, through the same mail and SMTP transport as real alerts."""
    config = current_app.config
    if not config["MAIL_SERVER"] or not config["ADMINS"]:
        raise click.ClickException("Set MAIL_SERVER and ADMINS first (for local development: make mailserver).")
    mailer = mail_handler(config)
    try:
        mailer.send(mailer.message(test_record()))
    except Exception as error:
        click.echo(f"Could not send the test alert via {mailer.address}: {type(error).__name__}: {error}", err=True)
        click.echo(f"Hint: {delivery_hint(error, mailer)}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Sent a test alert to {', '.join(mailer.toaddrs)} via {mailer.address}.")


def test_record() -> logging.LogRecord:
    try:
        raise RuntimeError("Test alert from `flask alerts test`: if you read this, alert mail works")
    except RuntimeError:
        record = logging.LogRecord("app.alerts", logging.ERROR, __file__, 0, "Test alert", None, sys.exc_info())
    record = capture(record)
    record.fault, record.shared = Fault(record.fingerprint, "", time.time(), time.time()), True
    return record


def delivery_hint(error: Exception, mailer: AlertMailHandler) -> str:
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
        return f"nothing listens on {mailer.address}; check MAIL_SERVER and MAIL_PORT (local: make mailserver)."
    if isinstance(error, TimeoutError | socket.timeout | smtplib.SMTPServerDisconnected):
        return f"the server did not answer within MAIL_TIMEOUT={mailer.timeout:g} s; wrong port or TLS setting?"
    if isinstance(error, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused):
        return "the server refused the sender or the recipients: check ALERTS_SENDER and ADMINS."
    return "check MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL and the credentials."
