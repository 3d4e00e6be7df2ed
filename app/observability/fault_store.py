"""The fault store: what Microblog remembers of each fault, shared by every worker process and host.

One record per fault (`Fault`) and the times of the last hour's mails (`Ledger`), changed in one
transaction at a time. The alert throttle decides in it (app/observability/alerts/throttle.py) and the
fault list reads and changes it (app/observability/faults.py: `flask errors`, /admin/errors). It lives
outside the application database, which may be the fault:
- Redis when ALERT_STATE_URL is set, changed in redis-py's optimistic transactions (WATCH/MULTI,
  retried on a conflict). The `limits` package (there for Flask-Limiter) was the first candidate,
  but its storages hold counters with whole-second expiries: enough for the hourly cap, not for a
  fault's record (subject, times, request ids), and two stores would split one decision in two.
- Otherwise a SQLite file on this host, each change one BEGIN IMMEDIATE transaction.
- `MemoryStore`, this process's memory: the throttle's fallback when neither can be reached.

Every fault is kept with its count, hourly counts for the last day, recent request ids, status, the
release it was seen in and users' feedback.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

REQUEST_IDS_KEPT = 5
FEEDBACK_KEPT = 20
HOURS_KEPT = 24  # hourly occurrence counts for the fault list's sparkline
HOUR = 3600.0

T = TypeVar("T")


@dataclass
class Fault:
    """What the shared state remembers about one fingerprint (in memory: a window and the repeats counted since)."""

    fingerprint: str
    subject: str
    first_seen: float
    window_start: float
    mailed: bool = False  # a mail of this fault went out: later mails reply to the first one
    first_mailed: bool = True  # False when the hourly cap held back the window's first mail
    repeats: int = 0  # occurrences folded since the last mail
    repeats_from: float | None = None
    repeats_until: float | None = None
    request_ids: list[str] = field(default_factory=list)  # of the repeats folded since the last mail
    # The fault list: kept across windows, changed where occurrences reach the state (decide, the batch write).
    kind: str = ""  # the exception's type
    where: str = ""  # the innermost application frame, path:function:line
    count: int = 0  # every occurrence, mailed, folded, muted or not
    last_seen: float | None = None
    recent_ids: list[str] = field(default_factory=list)
    hourly: list[list[int]] = field(default_factory=list)  # [hour since the epoch, occurrences], the last day
    last_mail: float | None = None
    status: str = "new"  # new, resolved or regressed; "muted" is read from the mute fields (`state`)
    release: str = ""  # the release it was last seen in
    hosts: dict[str, float] = field(default_factory=dict)  # the hosts it was seen on: name -> when last seen there
    resolved_in: str | None = None  # the release it was resolved in
    mute_until: float | None = None
    mute_left: int | None = None  # occurrences still to be muted
    feedback: list[dict] = field(default_factory=list)  # {"request_id", "text", "at", "mailed"}

    def fold(self, count: int, first: float, last: float, request_ids: list[str]) -> None:
        """Add occurrences to the repeats of the next follow-up: the one place where a repeat is folded."""
        self.repeats_from = first if self.repeats_from is None else min(self.repeats_from, first)
        self.repeats_until = last if self.repeats_until is None else max(self.repeats_until, last)
        self.repeats += count
        self.request_ids = (self.request_ids + request_ids)[-REQUEST_IDS_KEPT:]

    def fold_repeats_of(self, other: Fault) -> None:
        self.fold(other.repeats, other.repeats_from, other.repeats_until, other.request_ids)

    def blank(self) -> Fault:
        """Return this fault's window with no repeats counted."""
        fault = Fault(
            self.fingerprint, self.subject, self.first_seen, self.window_start, self.mailed, self.first_mailed
        )
        fault.kind, fault.where = self.kind, self.where
        return fault

    def occurred(self, count: int, at: float, request_ids: list[str], release: str, host: str = "") -> None:
        """Count occurrences in the fault list: the total, the hour's bucket, the latest ids, the release, the host."""
        self.count += count
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)
        self.recent_ids = (self.recent_ids + request_ids)[-REQUEST_IDS_KEPT:]
        self.release = release or self.release
        if host:
            self.hosts[host] = max(self.hosts.get(host, at), at)
        buckets = {hour: n for hour, n in self.hourly}
        hour = int(at // HOUR)
        buckets[hour] = buckets.get(hour, 0) + count
        newest = max(buckets)
        self.hourly = [[h, n] for h, n in sorted(buckets.items()) if h > newest - HOURS_KEPT]
        if self.mute_left is not None:
            self.mute_left = max(0, self.mute_left - count) or None

    def seen_on(self) -> list[str]:
        """Return the hosts it was seen on, the most recent first."""
        return sorted(self.hosts, key=self.hosts.__getitem__, reverse=True)

    def muted(self, now: float) -> bool:
        return (self.mute_until is not None and now < self.mute_until) or bool(self.mute_left)

    def state(self, now: float) -> str:
        """Return the status to show: new, muted, resolved or regressed."""
        return "muted" if self.muted(now) and self.status != "resolved" else self.status

    def quiet(self, now: float) -> bool:
        """Whether the operator asked for no mail: muted, or resolved."""
        return self.muted(now) or self.status == "resolved"

    def new_window(self, at: float, subject: str) -> None:
        self.subject, self.window_start, self.first_mailed = subject, at, True
        self.clear_repeats()

    def clear_repeats(self) -> None:
        self.repeats, self.repeats_from, self.repeats_until, self.request_ids = 0, None, None, []

    def mailed_at(self, at: float) -> None:
        """Note a mail of this fault: later mails reply to it; the feedback it carries is not mailed again."""
        self.mailed, self.last_mail = True, at
        self.feedback = [{**entry, "mailed": True} for entry in self.feedback]

    def pending_feedback(self) -> list[dict]:
        return [entry for entry in self.feedback if not entry.get("mailed")]


@dataclass
class Ledger:
    """The shared state as one change sees it."""

    faults: dict[str, Fault]
    mails: list[float]  # when the mails of the last hour were sent


def dumps(fault: Fault) -> str:
    return json.dumps(asdict(fault))


def changed(before: dict[str, str], ledger: Ledger) -> dict[str, str]:
    """Return the faults, serialised, that a change added or altered."""
    after = {fingerprint: dumps(fault) for fingerprint, fault in ledger.faults.items()}
    return {fingerprint: data for fingerprint, data in after.items() if before.get(fingerprint) != data}


class MemoryStore:
    """State in this process only: the fallback when the shared state is out of reach."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ledger = Ledger({}, [])

    def change(self, change: Callable[[Ledger], T]) -> T:
        with self.lock:
            return change(self.ledger)


class SqliteStore:
    """State in a SQLite file that every process of the host opens."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS faults (fingerprint TEXT PRIMARY KEY, data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS mails (sent REAL NOT NULL)",
    )

    def __init__(self, path: str | Path, timeout: float = 2.0):
        self.path = Path(path)
        self.timeout = timeout

    def change(self, change: Callable[[Ledger], T]) -> T:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
            for statement in self.SCHEMA:
                connection.execute(statement)
            before = dict(connection.execute("SELECT fingerprint, data FROM faults"))
            mails = [sent for (sent,) in connection.execute("SELECT sent FROM mails")]
            ledger = Ledger({fingerprint: Fault(**json.loads(data)) for fingerprint, data in before.items()}, mails)
            result = change(ledger)
            connection.executemany("INSERT OR REPLACE INTO faults VALUES (?, ?)", changed(before, ledger).items())
            if ledger.mails != mails:
                connection.execute("DELETE FROM mails")
                connection.executemany("INSERT INTO mails VALUES (?)", [(sent,) for sent in ledger.mails])
            connection.execute("COMMIT")
            return result
        finally:
            connection.close()  # without COMMIT, closing rolls back


class RedisStore:
    """State in Redis, shared by every host that uses the same URL and prefix."""

    def __init__(self, url: str, prefix: str = "microblog:alerts:", timeout: float = 2.0):
        import redis  # only needed when Redis is configured

        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.faults_key, self.mails_key = prefix + "faults", prefix + "mails"

    def change(self, change: Callable[[Ledger], T]) -> T:
        def attempt(pipe) -> T:  # redis-py runs it again if another client changed a watched key meanwhile
            before = {key.decode(): data.decode() for key, data in pipe.hgetall(self.faults_key).items()}
            mails = json.loads(pipe.get(self.mails_key) or "[]")
            ledger = Ledger({key: Fault(**json.loads(data)) for key, data in before.items()}, mails)
            result = change(ledger)
            pipe.multi()
            if updates := changed(before, ledger):
                pipe.hset(self.faults_key, mapping=updates)
            if ledger.mails != mails:
                pipe.set(self.mails_key, json.dumps(ledger.mails), ex=int(HOUR) * 2)
            return result

        return self.client.transaction(attempt, self.faults_key, self.mails_key, value_from_callable=True)


def list_faults(store: SqliteStore | RedisStore | MemoryStore) -> list[Fault]:
    """Return every fault the state remembers."""
    return list(store.change(lambda ledger: ledger.faults).values())


def state_store(config, instance_path: str) -> SqliteStore | RedisStore:
    """Return the shared alert state: Redis when ALERT_STATE_URL is set, else a SQLite file on this host."""
    if config["ALERT_STATE_URL"]:
        return RedisStore(config["ALERT_STATE_URL"], config["ALERT_STATE_PREFIX"])
    return SqliteStore(config["ALERT_STATE_PATH"] or Path(instance_path) / "alert-state.sqlite3")
