"""The timeout ladder: every inner timeout is shorter than the one outside it.

    database (SQLite busy wait; PostgreSQL connect_timeout and statement_timeout)
      < the app's request deadline (app/ops/deadline.py)
      < gunicorn's worker timeout
      < the proxy's read timeout (proxy_read_timeout in deploy/nginx/microblog-proxy.conf)

so that each failure is met by the layer that can still answer the user. A rung left unset is
derived from gunicorn's timeout as the worker sees it: gunicorn.conf.py's `post_fork` hook puts the
effective value (`--timeout 3` on the command line counts as much as GUNICORN_TIMEOUT) in the
environment before the worker builds the app.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from flask import Flask

WORKER_TIMEOUT_ENV = "MICROBLOG_WORKER_TIMEOUT"
DEFAULT_DATABASE_TIMEOUT = 5.0  # outside gunicorn (flask run, the CLI): the busy wait SQLite had before the ladder


@dataclass(frozen=True)
class Ladder:
    """The four rungs in seconds; 0 means off (no deadline, or not under gunicorn)."""

    database: float
    request: float
    worker: float
    proxy: float

    def rungs(self) -> list[tuple[str, float]]:
        named = [("DATABASE_TIMEOUT", self.database), ("REQUEST_TIMEOUT", self.request),
                 ("gunicorn's timeout", self.worker), ("PROXY_READ_TIMEOUT", self.proxy)]  # fmt: skip
        return [(name, seconds) for name, seconds in named if seconds > 0]

    def breaks(self) -> list[tuple[tuple[str, float], tuple[str, float]]]:
        """Return each rung that is not shorter than the one outside it, with that one: ((name, s), (name, s))."""
        return [(inner, outer) for inner, outer in pairwise(self.rungs()) if inner[1] >= outer[1]]

    def problems(self) -> list[str]:
        """Say which setting breaks the ladder, in the settings' own names."""
        return [
            f"{inner} ({inner_s:g} s) is not shorter than {outer} ({outer_s:g} s)"
            for (inner, inner_s), (outer, outer_s) in self.breaks()
        ]

    def describe(self) -> str:
        parts = [
            f"database {self.database:g} s",
            f"request {self.request:g} s" if self.request else "no request deadline",
        ]
        if self.worker:
            parts.append(f"gunicorn {self.worker:g} s")
        return " < ".join([*parts, f"proxy {self.proxy:g} s"])


def derive(config: Mapping, worker_timeout: float | None) -> Ladder:
    """Fill the unset rungs from gunicorn's timeout: 30 s gives 12.5 < 25 < 30; 3 s gives 1 < 2 < 3."""
    worker = float(worker_timeout or 0)
    request = config["REQUEST_TIMEOUT"]
    if request is None:
        request = max(worker - max(1.0, worker / 6), 0.0) if worker else 0.0
    database = config["DATABASE_TIMEOUT"]
    if database is None:
        database = request / 2 if request else DEFAULT_DATABASE_TIMEOUT
    return Ladder(float(database), float(request), worker, float(config["PROXY_READ_TIMEOUT"]))


def worker_timeout() -> float | None:
    """Return gunicorn's effective timeout when this process is a gunicorn worker, else None."""
    value = os.environ.get(WORKER_TIMEOUT_ENV, "").strip()
    return float(value) if value else None


def init_app(app: Flask) -> None:
    """Settle REQUEST_TIMEOUT and DATABASE_TIMEOUT before the engine and the deadline read them."""
    ladder = derive(app.config, worker_timeout())
    app.config["REQUEST_TIMEOUT"] = ladder.request
    app.config["DATABASE_TIMEOUT"] = ladder.database
