"""One SMTP session, opened the way the MAIL_* settings say: for the alert mails and the site's own mail."""

import smtplib
import ssl
from contextlib import contextmanager


@contextmanager
def smtp_session(host: str, port: int, implicit_tls: bool, starttls: bool, credentials, timeout: float):
    """Open an SMTP session: implicit TLS, or STARTTLS when asked; then log in with (user, password) if given.

    Shared by the alert mails (app/observability/alerts/mail.py) and the site's own mail to its users
    (app/auth/mail.py).
    """
    context = ssl.create_default_context()
    if implicit_tls:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if starttls and not implicit_tls:
            smtp.starttls(context=context)
        if credentials:
            smtp.login(*credentials)
        yield smtp
