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
    request_ids: list[str] = field(default_factory=list)

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
        return Fault(self.fingerprint, self.subject, self.first_seen, self.window_start, self.mailed, self.first_mailed)


@dataclass
class Decision:
    action: str  # "mail", "fold" or "hold"
    fault: Fault  # as it was before this occurrence was mailed: `mailed` says whether a thread exists
    shared: bool = True  # False when the shared state could not be read


@dataclass
class Ledger:
    """The shared state as one change sees it."""

    faults: dict[str, Fault]
    mails: list[float]  # when the mails of the last hour were sent


class AlertThrottle:
    """Decide, for every alert, whether it is mailed now, folded into a follow-up, or held by the hourly cap."""

    def __init__(self, store, window: float, per_hour: int):
        self.store, self.fallback = store, MemoryStore()
        self.window, self.per_hour = window, per_hour
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

    def decide(self, fingerprint: str, subject: str, request_id: str, at: float) -> Decision:
        self.write_counts(at)  # an earlier window's repeats first, so that they count there
        decision = self._change(lambda ledger: self._decide(ledger, fingerprint, subject, request_id, at))
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

    def _decide(self, ledger: Ledger, fingerprint: str, subject: str, request_id: str, at: float) -> Decision:
        fault = ledger.faults.get(fingerprint)
        if fault and (fault.repeats or at < fault.window_start + self.window):
            fault.fold(1, at, at, [request_id])
            return Decision("fold", replace(fault))
        fault = Fault(fingerprint, subject, fault.first_seen if fault else at, at, fault.mailed if fault else False)
        ledger.faults[fingerprint] = fault
        if not self._take_mail(ledger, at):
            fault.first_mailed = False
            fault.fold(1, at, at, [request_id])
            return Decision("hold", replace(fault))
        decision = Decision("mail", replace(fault))
        fault.mailed = True
        return decision

    def _write(self, ledger: Ledger, batches: list[Fault]) -> None:
        for known in batches:  # a fault decided by the other store meanwhile is added here
            ledger.faults.setdefault(known.fingerprint, known.blank()).fold_repeats_of(known)

    def _claim(self, ledger: Ledger, now: float) -> list[Fault]:
        claimed = []
        for fault in ledger.faults.values():
            ended = now >= fault.window_start + self.window + self.claim_delay
            if fault.repeats and ended and self._take_mail(ledger, now):
                claimed.append(replace(fault))
                # The follow-up is this window's one mail; occurrences from now on count for the next one.
                fault.window_start, fault.mailed, fault.first_mailed = now, True, True
                fault.repeats, fault.repeats_from, fault.repeats_until, fault.request_ids = 0, None, None, []
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
