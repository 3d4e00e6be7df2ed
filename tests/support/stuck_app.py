"""The real app plus views that get stuck on purpose: `gunicorn tests.support.stuck_app:app`.

/stuck/python loops in Python (the request deadline interrupts it); /stuck/c runs a query that never ends
inside SQLite's C code, where no signal handler runs (only gunicorn's SIGKILL ends it). /stuck/python/<any
path> loads the visitor's user first, as a page for a signed-in person does, then loops the same way.
"""

import sqlite3
import time

from flask import request
from flask_login import current_user

from app import create_app

app = create_app()


@app.route("/stuck/python")
@app.route("/api/stuck/python")
def stuck_in_python():
    deadline = time.monotonic() + float(request.args.get("seconds", 60))
    while time.monotonic() < deadline:
        sum(range(1000))  # busy in Python: a slow loop over rows, a retry loop, a hung upstream with a timeout
    return "finished"


@app.route("/stuck/python/<path:label>")
def stuck_in_python_for_a_user(label):
    current_user.is_authenticated  # noqa: B018 - loads the user, whom the request in flight then names
    return stuck_in_python()


@app.route("/stuck/c")
def stuck_in_c():
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    sqlite3.connect(":memory:").execute(endless).fetchone()
    return "never"
