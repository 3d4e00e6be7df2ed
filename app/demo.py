"""A switch to see a real failure: GET /demo/error raises, when DEMO_ERRORS is on (never in production)."""

from flask import Blueprint, Flask

bp = Blueprint("demo", __name__, url_prefix="/demo")


class DemoFailure(RuntimeError):
    """Raised on purpose by /demo/error, to show the 500 page, the log line and the alert mail."""


@bp.route("/error")
def error():
    raise DemoFailure("Demo failure requested at /demo/error")


def init_app(app: Flask) -> None:
    """Mount /demo when DEMO_ERRORS is on; refuse to start with it in production."""
    if not app.config["DEMO_ERRORS"]:
        return
    if app.config["ENV_NAME"] == "production":
        raise RuntimeError("DEMO_ERRORS is a development switch and is refused when MICROBLOG_ENV=production.")
    app.register_blueprint(bp)
