"""Microblog: a Flask microblog that shows how a web application should fail.

The packages, from the bottom up (each imports only those below it; docs/architecture.md draws them):
    observability/   request ids, logs, alert mails, Sentry, the fault store, `flask errors`
    the base layer   extensions.py, models.py, forms.py, database.py, security.py, templating.py
    errors/          every error answer: the pages, their words, problem details, typed text given back
    ops/             the timeout ladder, planned downtime, the request deadline, health, migrations
    main/, auth/     the microblog and its accounts
    api/, admin/     the JSON API over the same services; the operator's pages
"""

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app import admin, api, auth, errors, main, observability, ops, security, templating
from app.auth import mail
from app.database import bound_postgres_waits, configure_engine
from app.extensions import bootstrap, csrf, db, login
from app.version import __version__
from config import Config, TestConfig, settle

__all__ = ["__version__", "create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application, each part in the order a request meets it.

    Settings come from the environment (Config); a test passes `test_config`, which goes on top of TestConfig.
    """
    instance_path = os.environ.get("INSTANCE_PATH")  # this host's own files; unset, instance/ in the checkout
    app = Flask(__name__, instance_path=os.path.abspath(instance_path) if instance_path else None)
    app.config.from_object(Config if test_config is None else TestConfig)
    app.config.from_mapping(test_config or {})
    settle(app.config)
    observability.init_app(app)  # first: request ids, logs and alerts see everything after
    ops.init_app(app)  # timeouts, planned downtime and the deadline, before anything reads the form
    errors.init_app(app)  # unreadable input refused before the CSRF check; an answer for every error
    register_extensions(app)
    for part in (main, auth, api, admin):
        app.register_blueprint(part.bp)
    security.init_app(app)
    templating.init_app(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    bound_postgres_waits(app)  # before db.init_app builds the engine
    db.init_app(app)
    configure_engine(app)
    login.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    mail.init_app(app)  # the site's own mail to its users (app/auth/mail.py)
