"""The WSGI entry point: `flask run` and `gunicorn microblog:app` both load `app` from here, `flask` commands too."""

import os
import sys

from app import create_app
from app.ops.checks import asked_for_checks, checking_app

# Files the site creates (log files, the alert state, a SQLite database made by `flask db upgrade`) are for
# its user and group only: 0640. Set here, in the process's entry point, rather than in create_app, which
# tests and other programs call inside processes whose files are not the site's. gunicorn.conf.py sets it
# earlier still, for the files gunicorn's master opens.
os.umask(0o027)

# `flask check` reads the settings without building the site, so that it names the settings the site would refuse
# to start with as well as the others: it gets an app with that command alone (app/ops/checks.py).
app = checking_app() if asked_for_checks(sys.argv) else create_app()
