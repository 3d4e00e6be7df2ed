"""Decide for each alert: mail it now, fold it into a follow-up, or hold it back (the hourly cap).

The state every worker process shares (and, with Redis, every host): one record per fault and the
times of the last hour's mails. It lives outside the application database, which may be the fault:
- Redis when ALERT_STATE_URL is set, changed in redis-py's optimistic transactions (WATCH/MULTI,
  retried on a conflict). The `limits` package (there for Flask-Limiter) was the first candidate,
  but its storages hold counters with whole-second expiries: enough for the hourly cap, not for a
  fault's record (subject, times, request ids), and two stores would split one decision in two.
- Otherwise a SQLite file on this host, each change one BEGIN IMMEDIATE transaction.
- This process's memory when neither can be reached: alerts err on the side of being sent.

A fault's first occurrence in a window is decided through the shared state, so one process mails
it. A process that knows the window only counts its repeats in memory (cheap enough for the request
thread) and writes the counts at most once a second. A follow-up is claimed a little after its
window ends, once every process has written.

The same records are the fault list (`flask errors`, /admin/errors): every fault is kept with its
count, hourly counts for the last day, recent request ids, status, the release it was seen in and
users' feedback. The operator mutes a fault (no mail, still counted) or resolves it: an occurrence
in a newer release is a regression, mailed once; a late one from the resolved release stays quiet.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TypeVar

REQUEST_IDS_KEPT = 5
FEEDBACK_KEPT = 20
HOURS_KEPT = 24  # hourly occurrence counts for the fault list's sparkline
WRITE_INTERVAL = 1.0  # seconds between two writes of one fault's counted repeats (shorter for short windows)
HOUR = 3600.0

log = logging.getLogger("app.alerts")
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

    def occurred(self, count: int, at: float, request_ids: list[str], release: str) -> None:
        """Count occurrences in the fault list: the total, the hour's bucket, the latest ids, the release."""
        self.count += count
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)
        self.recent_ids = (self.recent_ids + request_ids)[-REQUEST_IDS_KEPT:]
        self.release = release or self.release
        buckets = {hour: n for hour, n in self.hourly}
        hour = int(at // HOUR)
        buckets[hour] = buckets.get(hour, 0) + count
        newest = max(buckets)
        self.hourly = [[h, n] for h, n in sorted(buckets.items()) if h > newest - HOURS_KEPT]
        if self.mute_left is not None:
            self.mute_left = max(0, self.mute_left - count) or None

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
class Occurrence:
    """One occurrence the worker asks about."""

    fingerprint: str
    subject: str
    request_id: str
    at: float
    kind: str = ""
    where: str = ""


@dataclass
class Decision:
    action: str  # "mail", "regression", "fold", "hold", "muted" or "resolved" (a late occurrence: no mail)
    fault: Fault  # as it was before this occurrence was mailed: `mailed` says whether a thread exists
    shared: bool = True  # False when the shared state could not be read


@dataclass
class Ledger:
    """The shared state as one change sees it."""

    faults: dict[str, Fault]
    mails: list[float]  # when the mails of the last hour were sent


class AlertThrottle:
    """Decide, for every alert, whether it is mailed now, folded into a follow-up, or held by the hourly cap."""

    def __init__(self, store, window: float, per_hour: int, release: str = ""):
        self.store, self.fallback = store, MemoryStore()
        self.window, self.per_hour = window, per_hour
        self.release = release  # of this process: a resolved fault seen in a newer one has regressed
        self.write_interval = min(WRITE_INTERVAL, max(window / 10, 0.05))
        self.claim_delay = 2 * self.write_interval  # so that every process has written what it counted
        self.store_failing = False
        self.forget_local()

    def forget_local(self) -> None:
        """Know no window and hold no count (in a forked child: its parent writes what it counted)."""
        self.lock = threading.Lock()
        self.known: dict[str, Fault] = {}  # the windows this process learnt, with the repeats it counted since
        self.written = float("-inf")  # when counts were last written: the first repeat is written at once

    def fold_known(self, fingerprint: str, request_id: str, at: float) -> bool | None:
        """Count a repeat in a window this process knows; return None if unknown, else whether a write is due.

        Until its end a window cannot change in the state, so the state need not be asked: this
        never touches it, and any thread may call it.
        """
        with self.lock:
            known = self.known.get(fingerprint)
            if known is None or at >= known.window_start + self.window:
                return None
            known.fold(1, at, at, [request_id])
            return at >= self.written + self.write_interval

    def decide(self, fingerprint: str, subject: str, request_id: str, at: float, kind: str = "", where: str = ""):
        self.write_counts(at)  # an earlier window's repeats first, so that they count there
        occurrence = Occurrence(fingerprint, subject, request_id, at, kind, where)
        decision = self._change(lambda ledger: self._decide(ledger, occurrence))
        decision.shared = not self.store_failing
        with self.lock:  # windows that ended are forgotten each round (due_follow_ups)
            known, earlier = decision.fault.blank(), self.known.get(fingerprint)
            if earlier:  # repeats counted meanwhile are still to be written
                known.fold_repeats_of(earlier)
            self.known[fingerprint] = known
        return decision

    def write_counts(self, now: float | None = None) -> None:
        """Write the repeats counted in memory to the state."""
        with self.lock:
            batches = [known for known in self.known.values() if known.repeats]
            self.known = {fingerprint: known.blank() for fingerprint, known in self.known.items()}
            self.written = time.time() if now is None else now
        if batches:
            self._change(lambda ledger: self._write(ledger, batches))

    def write_due_in(self) -> float | None:
        """Return the seconds until counted repeats are due to be written (0: now), or None if none wait."""
        with self.lock:
            waiting = any(known.repeats for known in self.known.values())
        return max(0.0, self.written + self.write_interval - time.time()) if waiting else None

    def due_follow_ups(self, now: float | None = None) -> list[Fault]:
        """Claim the follow-ups whose window has ended; each is claimed by exactly one process."""
        now = time.time() if now is None else now
        with self.lock:
            self._forget_ended(now)
        claim = lambda ledger: self._claim(ledger, now)  # noqa: E731
        return self.fallback.change(claim) + self._change(claim)  # a store that fails claims from memory: none left

    def _change(self, change: Callable[[Ledger], T]) -> T:
        """Apply `change` to the shared state, or to this process's memory when the state cannot be reached."""
        try:
            result = self.store.change(change)
        except Exception as error:
            if not self.store_failing:
                log.warning("Alert state unavailable (%s: %s); this process throttles alerts alone until it is back",
                            type(error).__name__, error)  # fmt: skip
            self.store_failing = True
            return self.fallback.change(change)
        if self.store_failing:
            log.warning("Alert state is back; throttling is shared again")
        self.store_failing = False
        return result

    def _decide(self, ledger: Ledger, seen: Occurrence) -> Decision:
        fault = ledger.faults.get(seen.fingerprint)
        if fault is None:
            fault = ledger.faults[seen.fingerprint] = Fault(seen.fingerprint, seen.subject, seen.at, seen.at)
        fresh = fault.count == 0  # also a fault that so far holds only feedback (sent before the worker wrote it)
        if fresh:
            fault.first_seen = seen.at
        if fresh or not fault.where:
            fault.kind, fault.where = seen.kind, seen.where
        muted = fault.muted(seen.at)  # before this occurrence counts down a mute by count
        fault.occurred(1, seen.at, [seen.request_id], self.release)
        if fault.status == "resolved":
            if not is_newer(self.release, fault.resolved_in):
                return self._quiet(fault, seen.at, "resolved")
            fault.status = "regressed"
            fault.new_window(seen.at, seen.subject)
            return self._first_mail(ledger, fault, seen, "regression")
        if muted:
            return self._quiet(fault, seen.at, "muted")
        if not fresh and (fault.repeats or seen.at < fault.window_start + self.window):
            fault.fold(1, seen.at, seen.at, [seen.request_id])
            return Decision("fold", replace(fault))
        fault.new_window(seen.at, seen.subject)
        return self._first_mail(ledger, fault, seen, "mail")

    def _first_mail(self, ledger: Ledger, fault: Fault, seen: Occurrence, action: str) -> Decision:
        if not self._take_mail(ledger, seen.at):
            fault.first_mailed = False
            fault.fold(1, seen.at, seen.at, [seen.request_id])
            return Decision("hold", replace(fault))
        decision = Decision(action, replace(fault))
        fault.mailed_at(seen.at)
        return decision

    def _quiet(self, fault: Fault, at: float, action: str) -> Decision:
        """Count without mail; a window of its own lets each process count the repeats in memory."""
        if at >= fault.window_start + self.window:
            fault.window_start = at
        return Decision(action, replace(fault))

    def _write(self, ledger: Ledger, batches: list[Fault]) -> None:
        for known in batches:  # a fault decided by the other store meanwhile is added here
            fault = ledger.faults.setdefault(known.fingerprint, known.blank())
            if not fault.quiet(known.repeats_until):  # a muted or resolved fault's repeats make no follow-up
                fault.fold_repeats_of(known)
            fault.occurred(known.repeats, known.repeats_until, known.request_ids, self.release)

    def _claim(self, ledger: Ledger, now: float) -> list[Fault]:
        claimed = []
        for fault in ledger.faults.values():
            ended = now >= fault.window_start + self.window + self.claim_delay
            if fault.repeats and ended and fault.quiet(now):
                fault.clear_repeats()  # counted in the list; the operator asked for no mail
            elif fault.repeats and ended and self._take_mail(ledger, now):
                claimed.append(replace(fault))
                # The follow-up is this window's one mail; occurrences from now on count for the next one.
                fault.window_start, fault.first_mailed = now, True
                fault.mailed_at(now)
                fault.clear_repeats()
        return claimed

    def _take_mail(self, ledger: Ledger, now: float) -> bool:
        """Count a mail against the cap of the last hour, if it leaves room."""
        ledger.mails = [sent for sent in ledger.mails if sent > now - HOUR]
        if len(ledger.mails) >= self.per_hour:
            return False
        ledger.mails.append(now)
        return True

    def _forget_ended(self, now: float) -> None:
        for fingerprint, known in list(self.known.items()):
            if now >= known.window_start + self.window and not known.repeats:
                del self.known[fingerprint]


def is_newer(release: str, than: str | None) -> bool:
    """Whether `release` is later than `than`: numerically when both are dotted numbers, else any other."""
    if not release or release == than or than is None:
        return False
    try:
        return tuple(map(int, release.split("."))) > tuple(map(int, than.split(".")))
    except ValueError:
        return True


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
