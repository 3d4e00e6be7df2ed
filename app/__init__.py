"""Microblog: a Flask microblog that shows how a web application should fail."""

from collections.abc import Mapping
from typing import Any

from flask import Flask

from app import (
    cli,
    database,
    db_commands,
    deadline,
    demo,
    errors,
    favicon,
    feedback,
    input_checks,
    mail,
    maintenance,
    session_menu,
    templating,
    timeouts,
)
from app.admin import bp as admin_bp
from app.api import bp as api_bp
from app.extensions import bootstrap, csrf, db, login
from app.health import bp as health_bp
from app.observability import init_observability
from app.routes import bp as main_bp
from app.security import init_app as init_security
from app.version import __version__
from config import Config, TestConfig

__all__ = ["__version__", "create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, views, error handlers, CLI.

    Settings come from the environment (Config); a test passes `test_config`, which goes on top of TestConfig.
    """
    app = Flask(__name__)
    app.config.from_object(Config if test_config is None else TestConfig)
    app.config.from_mapping(test_config or {})
    timeouts.init_app(app)
    init_observability(app)
    maintenance.init_app(app)  # early: planned downtime answers before anything reads the form or the database
    deadline.init_app(app)  # early: the deadline covers the other before_request steps too
    input_checks.init_app(app)  # before the CSRF check reads the form
    register_extensions(app)
    app.register_blueprint(main_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    feedback.init_app(app)
    init_security(app)
    demo.init_app(app)
    errors.register_error_handlers(app)
    session_menu.init_app(app)
    favicon.init_app(app)
    templating.register_template_helpers(app)
    cli.register_commands(app)
    db_commands.register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    database.bound_postgres_waits(app)  # before db.init_app builds the engine
    db.init_app(app)
    database.configure_engine(app)
    login.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    mail.init_app(app)
