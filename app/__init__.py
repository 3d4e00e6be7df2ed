"""Microblog: a Flask microblog that shows how a web application should fail."""

from flask import Flask

from app import cli, database, demo, errors, input_checks, templating
from app.alerts import init_alerts
from app.api import bp as api_bp
from app.extensions import bootstrap, csrf, db, login, migrate
from app.health import bp as health_bp
from app.logs import configure_logging
from app.request_id import init_request_id
from app.routes import bp as main_bp
from app.security import init_app as init_security
from app.sentry import init_sentry
from config import Config

__version__ = "1.0.0"


def create_app(config_class: type = Config) -> Flask:
    """Build the application: settings, extensions, views, error handlers, CLI."""
    app = Flask(__name__)
    app.config.from_object(config_class)
    configure_logging(app)
    init_request_id(app)
    input_checks.init_app(app)  # before the CSRF check reads the form
    register_extensions(app)
    app.register_blueprint(main_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    init_security(app)
    demo.init_app(app)
    errors.register_error_handlers(app)
    templating.register_template_helpers(app)
    cli.register_commands(app)
    init_alerts(app)
    init_sentry(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions to this app."""
    db.init_app(app)
    database.configure_engine(app)
    migrate.init_app(app, db)
    login.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
