"""The operator's switches: the timeout ladder, planned downtime, the request deadline, health and readiness,
and the migrations.

    timeouts.py      every inner timeout shorter than the one outside it, derived from gunicorn's
    maintenance.py   `flask maintenance on|off|status`: a 503 page that says when the site is back
    deadline.py      a request past REQUEST_TIMEOUT fails like any other error, before gunicorn kills it;
                     a body that does not arrive within half of it is a 408
    health.py        /healthz and /readyz for the process manager and the load balancer (blueprint "health")
    migrations.py    `flask db`, the lock that makes two hosts' migrations take turns, and the revisions
                     /readyz compares
    checks.py        `flask check [--deploy]`: every setting this host gets wrong, one line each with its fix

It imports the base layer, app/errors/ (its pages are error pages) and app/observability/; never the views.
"""

from flask import Flask

from app.ops import checks, deadline, maintenance, migrations, timeouts
from app.ops.health import bp as health_bp


def init_app(app: Flask) -> None:
    """Settle the timeouts, then arm the deadline and answer planned downtime before any other step of a request."""
    timeouts.init_app(app)  # first: the deadline here and the database engine read the ladder
    deadline.init_app(app)  # the deadline, and the body read within its share, cover every later step
    maintenance.init_app(app)  # before anything else reads the form or the database
    app.register_blueprint(health_bp)
    migrations.init_app(app)
    app.cli.add_command(checks.check_command)
