"""Decide for each alert: mail it now, fold it into a follow-up, or hold it back (the hourly cap).

The decision rests on state that every worker process (and, with Redis, every host) shares: one
record per fault (its window, the repeats folded since its last mail, the latest request ids)
and the times of the mails sent in the last hour. It lives outside the application database,
which may be the very fault:

- Redis when ALERT_STATE_URL is set: a hash of faults and a list of mail times, changed in
  redis-py's optimistic transactions (WATCH/MULTI, retried on a conflict), no lock of our own.
  The `limits` package (already here for Flask-Limiter) was the first candidate, but its storages
  hold counters with whole-second expiries: enough for the hourly cap, not for a fault's record
  (subject, first seen, request ids, the repeats' times) that follow-ups need, and a second store
  beside it would split one decision over two transactions.
- Otherwise a SQLite file on this host, each change one BEGIN IMMEDIATE transaction.
- A process's memory when neither can be reached: alerts err on the side of being sent.

The first occurrence of a fault in a window is decided through the shared state at once, so one
process mails it. Once a process knows the window, it only counts the window's repeats in memory
(cheap enough for the request thread) and writes the counts in batches, at most once a second per
fault. A follow-up is claimed a little after its window ends, once every process has written.
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
KNOWN_FAULTS_KEPT = 10_000  # a bound on the windows a process remembers, in case faults keep changing shape
HOUR = 3600.0

log = logging.getLogger("app.alerts")
T = TypeVar("T")


@dataclass
class Tally:
    """Occurrences of one fault counted but not yet mailed: how many, when, and the latest request ids."""

    count: int = 0
    first: float | None = None
    last: float | None = None
    request_ids: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Fold counted occurrences in: the one place where a repeat is folded."""
        if not other.count:
            return
        self.first = other.first if self.first is None else min(self.first, other.first)
        self.last = other.last if self.last is None else max(self.last, other.last)
        self.count += other.count
        self.request_ids = (self.request_ids + other.request_ids)[-REQUEST_IDS_KEPT:]


def occurrence(request_id: str, at: float) -> Tally:
    return Tally(1, at, at, [request_id])


@dataclass
class Fault:
    """What the shared state remembers about one fingerprint."""

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

    def fold(self, tally: Tally) -> None:
        """Add counted occurrences to the repeats of this fault's next follow-up."""
        repeats = Tally(self.repeats, self.repeats_from, self.repeats_until, self.request_ids)
        repeats.add(tally)
        self.repeats, self.repeats_from, self.repeats_until = repeats.count, repeats.first, repeats.last
        self.request_ids = repeats.request_ids

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


@dataclass
class KnownWindow:
    """A fault's window as this process last learnt it, and the repeats it counted since it last wrote."""

    fault: Fault
    tally: Tally = field(default_factory=Tally)
    written: float = float("-inf")  # the first repeat is written at once


class AlertThrottle:
    """Decide, for every alert, whether it is mailed now, folded into a follow-up, or held by the hourly cap."""

    def __init__(self, store, window: float, per_hour: int):
        self.store = store
        self.fallback = MemoryStore()
        self.window = window
        self.per_hour = per_hour
        self.write_interval = min(WRITE_INTERVAL, max(window / 10, 0.05))
        self.claim_delay = 2 * self.write_interval  # so that every process has written what it counted
        self.store_failing = False
        self.forget_local()

    def forget_local(self) -> None:
        """Start with no known window (a forked child: its parent writes what it counted)."""
        self.lock = threading.Lock()
        self.known: dict[str, KnownWindow] = {}

    def fold_known(self, fingerprint: str, request_id: str, at: float) -> bool | None:
        """Count a repeat in a window this process knows; return None if unknown, else whether a write is due.

        Until its end a window cannot change in the state, so the state need not be asked: this
        never touches it, and any thread may call it.
        """
        with self.lock:
            known = self.known.get(fingerprint)
            if known is None or at >= known.fault.window_start + self.window:
                return None
            known.tally.add(occurrence(request_id, at))
            return at >= known.written + self.write_interval

    def decide(self, fingerprint: str, subject: str, request_id: str, at: float) -> Decision:
        self.write_counts(at, fingerprint=fingerprint)  # an earlier window's repeats first, so they count there
        decision = self._change(lambda ledger: self._decide(ledger, fingerprint, subject, request_id, at))
        with self.lock:
            if len(self.known) >= KNOWN_FAULTS_KEPT:
                self._forget_ended(at)
            known, earlier = KnownWindow(decision.fault), self.known.get(fingerprint)
            if earlier is not None:  # repeats counted meanwhile are still to be written
                known.tally, known.written = earlier.tally, earlier.written
            self.known[fingerprint] = known
        return decision

    def write_counts(self, now: float | None = None, everything: bool = False, fingerprint: str | None = None) -> None:
        """Write the repeats counted in memory that are due (or all of them, or one fault's) to the state."""
        now = time.time() if now is None else now
        batches = []
        with self.lock:
            for known in self.known.values():
                due = everything or known.fault.fingerprint == fingerprint or now >= known.written + self.write_interval
                if known.tally.count and due:
                    batches.append((known.fault, known.tally))
                    known.tally, known.written = Tally(), now
        if batches:
            self._change(lambda ledger: self._write(ledger, batches))

    def write_due_in(self) -> float | None:
        """Return the seconds until counted repeats are due to be written (0: now), or None if none wait."""
        with self.lock:
            due = [known.written + self.write_interval for known in self.known.values() if known.tally.count]
        return max(0.0, min(due) - time.time()) if due else None

    def due_follow_ups(self, now: float | None = None) -> list[Fault]:
        """Claim the follow-ups whose window has ended; each is claimed by exactly one process."""
        now = time.time() if now is None else now
        with self.lock:
            self._forget_ended(now)
        claimed = self.fallback.change(lambda ledger: self._claim(ledger, now))
        return claimed + self._change(lambda ledger: self._claim(ledger, now), fallback=False, default=[])

    def _change(self, change: Callable[[Ledger], T], fallback: bool = True, default=None) -> T:
        """Apply `change` to the shared state; on failure to this process's memory (or return `default`)."""
        try:
            result = self.store.change(change)
        except Exception as error:
            if not self.store_failing:
                log.warning("Alert state unavailable (%s: %s); this process throttles alerts alone until it is back",
                            type(error).__name__, error)  # fmt: skip
            self.store_failing = True
            if not fallback:
                return default
            result = self.fallback.change(change)
            if isinstance(result, Decision):
                result.shared = False
            return result
        if self.store_failing:
            log.warning("Alert state is back; throttling is shared again")
        self.store_failing = False
        return result

    def _decide(self, ledger: Ledger, fingerprint: str, subject: str, request_id: str, at: float) -> Decision:
        fault = ledger.faults.get(fingerprint)
        if fault and (fault.repeats or at < fault.window_start + self.window):
            fault.fold(occurrence(request_id, at))
            return Decision("fold", replace(fault))
        fault = Fault(fingerprint, subject, fault.first_seen if fault else at, at, fault.mailed if fault else False)
        ledger.faults[fingerprint] = fault
        if not self._take_mail(ledger, at):
            fault.first_mailed = False
            fault.fold(occurrence(request_id, at))
            return Decision("hold", replace(fault))
        decision = Decision("mail", replace(fault))
        fault.mailed = True
        return decision

    def _write(self, ledger: Ledger, batches: list[tuple[Fault, Tally]]) -> None:
        for known, tally in batches:  # a fault decided by the other store meanwhile is added here
            ledger.faults.setdefault(known.fingerprint, known.blank()).fold(tally)

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
            if now >= known.fault.window_start + self.window and not known.tally.count:
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

    def faults(self) -> list[Fault]:
        return list(self.change(lambda ledger: ledger.faults).values())


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

    def faults(self) -> list[Fault]:
        return list(self.change(lambda ledger: ledger.faults).values())


def state_store(config, instance_path: str) -> SqliteStore | RedisStore:
    """Return the shared alert state: Redis when ALERT_STATE_URL is set, else a SQLite file on this host."""
    if config["ALERT_STATE_URL"]:
        return RedisStore(config["ALERT_STATE_URL"], config["ALERT_STATE_PREFIX"])
    return SqliteStore(config["ALERT_STATE_PATH"] or Path(instance_path) / "alert-state.sqlite3")
