"""What watches the app: request ids, logs, alert mails and Sentry, all scrubbed of secrets.

Nothing here imports the web modules (views, models, forms): they call down into this package,
never the other way.
"""

from flask import Flask

from app.observability.alerts import init_alerts
from app.observability.cli import alerts_cli, errors_cli
from app.observability.inflight import init_inflight
from app.observability.logs import configure_logging
from app.observability.request_id import init_request_id
from app.observability.sentry import init_sentry
from app.observability.uncaught import init_uncaught


def init_observability(app: Flask) -> None:
    """Give every request an id; attach the log, the alert mails and Sentry; add `flask alerts` and `flask errors`."""
    configure_logging(app)
    init_request_id(app)
    init_inflight(app)
    init_alerts(app)
    init_sentry(app)
    if not app.debug and (not app.testing or app.config["LOG_IN_TESTS"]):  # the rule of configure_logging
        init_uncaught(app)  # errors outside requests go the same way
    app.cli.add_command(alerts_cli)
    app.cli.add_command(errors_cli)
