"""What watches the app: request ids, logs, alert mails and Sentry, all scrubbed of secrets; the fault store
and the operator's `flask errors`.

    request_id.py     one id per request, from the trusted proxy or made fresh
    logs.py           the log line (text or JSON), the traceback once per fault and window, the repeats file
    repeats.py        a storm's repeats as one line a second that lists their request ids
    scrub.py          one vocabulary of secrets for every sink
    fingerprint.py    a fault's name: exception type and innermost application frame
    alerts/           log record -> queue -> throttle -> mail
    fault_store.py    what is remembered of each fault (SQLite on one host, Redis for many)
    failures.py       the records of failed requests in the shared store, for `find` on any host
    faults.py         the fault list: list, mute, resolve, feedback
    worker.py         one background thread and a bounded queue (the alerts' and the site's mail)
    smtp.py           one SMTP session (the alerts' and the site's mail)
    sentry.py         Sentry, when SENTRY_DSN is set
    uncaught.py       exceptions outside requests (commands, threads)
    inflight.py       the request a worker serves, for gunicorn's master to report if the worker dies
    gunicorn.py       gunicorn's logs in the app's format, and the requests of workers that died
    log_search.py     finding a request's records in the logs
    cli.py            `flask errors` and `flask alerts test`

It is the bottom of the house: it imports nothing of the app but app/version.py and config.py. The web
side (views, models, forms, error pages) calls down into it, never the other way.
"""

from flask import Flask

from app.observability.alerts import init_alerts
from app.observability.cli import alerts_cli, errors_cli
from app.observability.failures import init_failures
from app.observability.inflight import init_inflight
from app.observability.logs import configure_logging
from app.observability.request_id import init_request_id
from app.observability.sentry import init_sentry
from app.observability.uncaught import init_uncaught


def init_app(app: Flask) -> None:
    """Give every request an id; attach the log, the alert mails and Sentry; add `flask alerts` and `flask errors`."""
    configure_logging(app)
    init_request_id(app)
    init_inflight(app)
    init_alerts(app)
    init_sentry(app)
    if not app.debug and (not app.testing or app.config["LOG_IN_TESTS"]):  # the rule of configure_logging
        init_failures(app)  # with a shared store: failed requests findable from any host
        init_uncaught(app)  # errors outside requests go the same way
    app.cli.add_command(alerts_cli)
    app.cli.add_command(errors_cli)
