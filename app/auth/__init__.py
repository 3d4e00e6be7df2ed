"""Accounts (blueprint "auth"): registration, login and logout, sessions, limits on failed logins,
password change and reset, and the mails an account gets.

    routes.py     the account pages (/login, /register, /change_password, ...)
    accounts.py   what the pages do besides forms: start and end logins, reset tokens, the account mails
    limits.py     failed logins counted per account and address; the limit on account forms and mails
    mail.py       the site's own mail to its users, sent off the request path

It imports the base layer, app/errors/input_checks.py (what a control character is) and
app/observability/ (the shared mail worker and SMTP session); app/api/ calls into it.
"""

from app.auth.routes import bp

__all__ = ["bp"]
