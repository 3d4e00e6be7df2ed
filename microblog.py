"""The WSGI entry point: `flask run` and `gunicorn microblog:app` both load `app` from here, `flask` commands too."""

import os

from app import create_app

# Files the site creates (log files, the alert state, a SQLite database made by `flask db upgrade`) are for
# its user and group only: 0640. Set here, in the process's entry point, rather than in create_app, which
# tests and other programs call inside processes whose files are not the site's. gunicorn.conf.py sets it
# earlier still, for the files gunicorn's master opens.
os.umask(0o027)

app = create_app()
