"""A switch to see a real failure: GET /demo/error raises, when DEMO_ERRORS is on in development or test."""

from flask import Blueprint, Flask

bp = Blueprint("demo", __name__, url_prefix="/demo")


class DemoFailure(RuntimeError):
    """Raised on purpose by /demo/error, to show the 500 page, the log line and the alert mail."""


@bp.route("/error")
def error():
    raise DemoFailure("Demo failure requested at /demo/error")


# Where DEMO_ERRORS may mount /demo/error, compared exactly (case and blanks count): a misspelt or empty
# MICROBLOG_ENV ("prod", "Production", "") refuses to start rather than expose a page anyone can make fail.
DEMO_ENVIRONMENTS = ("development", "test")


def init_app(app: Flask) -> None:
    """Mount /demo when DEMO_ERRORS is on; refuse to start with it anywhere but development and test."""
    if not app.config["DEMO_ERRORS"]:
        return
    environment = app.config["ENV_NAME"]
    if environment not in DEMO_ENVIRONMENTS:
        raise RuntimeError(
            f"DEMO_ERRORS is a development switch and is refused when MICROBLOG_ENV={environment or '(empty)'}: "
            "it is allowed only when MICROBLOG_ENV is development or test (exactly, in lower case)."
        )
    app.register_blueprint(bp)
