"""Every error the site answers with, in the site's look and in plain words; problem details under /api.

    handlers.py          the error handlers: which page, HTML or JSON, the session rolled back
    text.py              the words of each page: what happened and what to do next
    problem_details.py   RFC 9457 problem+json, the answer under /api, and its catalog of problem types
    input_checks.py      input that cannot be read as sent is refused with a 400 before any view
    resubmit.py          what the user typed, given back on the page that refused it
    session_menu.py      the logged-in menu on pages that must not touch the database
    feedback.py          the 500 page's feedback form (blueprint "feedback")
    proxy_pages.py       nginx's own 502, 503 and 504 pages, rendered from templates/errors/
    demo.py              /demo/error, a real failure to look at, when DEMO_ERRORS is on

It imports the base layer (app/database.py, extensions.py, forms.py) and app/observability/; never
the views (main, auth, api, admin) nor app/ops/, which call into it.
"""

from flask import Flask

from app.errors import demo, feedback, input_checks, session_menu
from app.errors.handlers import register_error_handlers
from app.errors.proxy_pages import write_pages_command
from app.observability.cli import errors_cli


def init_app(app: Flask) -> None:
    """Refuse unreadable input before the CSRF check or a view reads it; answer every error; keep the menu."""
    input_checks.init_app(app)
    register_error_handlers(app)
    session_menu.init_app(app)
    feedback.init_app(app)
    demo.init_app(app)
    errors_cli.add_command(write_pages_command)  # the operator's group (app/observability/cli.py)
