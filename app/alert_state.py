"""Group alerts by fault and throttle them, with state shared by every worker process of a host.

The state lives outside the application database (which may be the very fault): in a small SQLite
file by default, or in Redis when ALERT_STATE_URL is set. When it cannot be read, each process
decides alone from memory, so alerts err on the side of being sent.

The first occurrence of a fault in a window is decided through the shared state at once, so that
one process mails it. Once a process knows a fault's window, it folds that window's repeats in
memory and writes their count to the state in batches (at most once a second per fault, and all
of them when it stops); a follow-up is claimed a little after its window ends, once every process
has written what it folded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

PROJECT_DIR = Path(__file__).resolve().parents[1]
REQUEST_IDS_KEPT = 5
IDLE_FAULT_KEPT = 24 * 3600  # an idle fault is remembered this long, to thread its next mail with the earlier ones
WRITE_INTERVAL = 1.0  # seconds between two writes of one fault's folded repeats (shorter for short windows)
KNOWN_FAULTS_KEPT = 10_000  # a bound on the windows a process remembers, in case faults keep changing shape

log = logging.getLogger("app.alerts")


def fingerprint(exc: BaseException) -> str:
    """Name a fault by its exception type and innermost application frame, never by its message."""
    kind = type(exc)
    return digest(f"{kind.__module__}.{kind.__qualname__}|{innermost_application_place(exc.__traceback__)}")


def record_fingerprint(record: logging.LogRecord) -> str:
    """Return (and remember on the record) the fingerprint of a log record's fault."""
    if not getattr(record, "fingerprint", None):
        exc = record.exc_info[1] if record.exc_info else None
        record.fingerprint = fingerprint(exc) if exc else digest(f"{record.name}|{record.msg}")
    return record.fingerprint


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def innermost_application_place(tb: types.TracebackType | None) -> str:
    """Return `path:function:line` of the innermost application frame (else of the innermost frame), or ""."""
    innermost = own = None
    while tb is not None:  # walked by hand: no source lines are read, no frame is kept
        code = tb.tb_frame.f_code
        innermost = (code.co_filename, code.co_name, tb.tb_lineno)
        if is_application_file(code.co_filename):
            own = innermost
        tb = tb.tb_next
    frame = own or innermost
    return f"{relative_path(frame[0])}:{frame[1]}:{frame[2]}" if frame else ""


@lru_cache(maxsize=4096)  # a filename's answer never changes; resolving it costs a system call per path component
def is_application_file(filename: str) -> bool:
    path = Path(filename).resolve()
    return path.is_relative_to(PROJECT_DIR) and not {"site-packages", ".venv"} & set(path.parts)


@lru_cache(maxsize=4096)
def relative_path(filename: str) -> str:
    path = Path(filename).resolve()
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else filename


@dataclass
class Fault:
    """What the hosts remember about one fingerprint."""

    fingerprint: str
    subject: str
    window_start: float
    root_message_id: str | None = None  # the first mail of this fault: later mails reply to it
    first_mailed: bool = True
    repeats: int = 0  # occurrences folded since the last mail
    repeats_from: float | None = None
    repeats_until: float | None = None
    request_ids: list[str] = field(default_factory=list)


@dataclass
class Decision:
    send: bool
    reason: str  # first, folded, capped
    message_id: str | None = None
    in_reply_to: str | None = None
    shared: bool = True  # False when the shared state could not be read
    window_start: float = 0.0  # the start of the window the occurrence fell in
    first_mailed: bool = True  # False when the hourly cap held back that window's first mail


@dataclass
class Summary:
    """A follow-up mail: the occurrences folded during one window."""

    fingerprint: str
    subject: str
    count: int
    first: float
    last: float
    first_mailed: bool
    message_id: str
    in_reply_to: str | None
    request_ids: list[str]


class StateTransaction(Protocol):
    def get(self, fingerprint: str) -> Fault | None: ...
    def put(self, fault: Fault) -> None: ...
    def delete(self, fingerprint: str) -> None: ...
    def faults(self) -> list[Fault]: ...
    def mails_in_hour(self, hour: int) -> int: ...
    def count_mail(self, hour: int) -> None: ...


class StateStore(Protocol):
    def transaction(self) -> AbstractContextManager[StateTransaction]: ...


class AlertThrottle:
    """Decide, for every alert, whether it is mailed now, folded into a follow-up, or held by the hourly cap."""

    def __init__(self, store: StateStore, window: float, per_hour: int, make_message_id: Callable[[str], str]):
        self.store = store
        self.fallback = MemoryStore()
        self.window = window
        self.per_hour = per_hour
        self.make_message_id = make_message_id
        self.store_failing = False
        self.write_interval = min(WRITE_INTERVAL, max(window / 10, 0.05))
        # A follow-up waits this long after its window so that every process has written the repeats it folded.
        self.claim_delay = 2 * self.write_interval
        self.known = KnownWindows(window)

    def fold_locally(self, fingerprint: str, request_id: str, at: float) -> bool:
        """Count a repeat in memory when it falls in a window this process knows; say whether it did.

        Safe to call from any thread: it never touches the state, so a request may call it.
        """
        return self.known.fold(fingerprint, request_id, at)

    def write_due_in(self, now: float | None = None, fingerprint: str | None = None) -> float | None:
        """Return the seconds until folded repeats are due to be written (0: now), or None if none wait."""
        return self.known.write_due_in(time.time() if now is None else now, self.write_interval, fingerprint)

    def write_repeats(self, now: float | None = None, everything: bool = False, fingerprint: str | None = None) -> None:
        """Write the repeats folded in memory that are due (or all of them, or one fault's) to the state."""
        now = time.time() if now is None else now
        batches = self.known.take_repeats(now, self.write_interval, everything, fingerprint)
        if not batches:
            return
        try:
            self._write(self.store, batches)
        except Exception as error:  # counted in this process's memory rather than lost
            self._note_store_failure(error)
            self._write(self.fallback, batches)
            return
        self._note_store_ok()

    def occurrence(self, fingerprint: str, subject: str, request_id: str, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        self.write_repeats(now, fingerprint=fingerprint)  # the earlier window's repeats first, so they count there
        try:
            decision = self._occurrence(self.store, fingerprint, subject, request_id, now)
        except Exception as error:  # any failure of the state: decide alone rather than stay silent
            self._note_store_failure(error)
            decision = self._occurrence(self.fallback, fingerprint, subject, request_id, now)
            decision.shared = False
        else:
            self._note_store_ok()
        self.known.learn(fingerprint, subject, decision)
        return decision

    def due_summaries(self, now: float | None = None) -> list[Summary]:
        """Claim the follow-ups whose window has ended; each is claimed by exactly one process."""
        now = time.time() if now is None else now
        self.known.forget_ended(now)
        summaries = self._due_summaries(self.fallback, now)
        try:
            summaries += self._due_summaries(self.store, now)
        except Exception as error:
            self._note_store_failure(error)
        return summaries

    def reset_after_fork(self) -> None:
        """Forget what the parent folded: the parent writes it, and a lock may have been copied held."""
        self.known = KnownWindows(self.window)

    def _write(self, store: StateStore, batches: list[tuple[KnownWindow, Repeats]]) -> None:
        with store.transaction() as state:
            for known, repeats in batches:
                fault = state.get(known.fingerprint)
                if fault is None:  # forgotten meanwhile (or decided by the other store): count them anyway
                    fault = Fault(known.fingerprint, known.subject, known.start, first_mailed=known.first_mailed)
                add_repeats(fault, repeats)
                state.put(fault)

    def _occurrence(self, store: StateStore, fingerprint, subject, request_id, now) -> Decision:
        with store.transaction() as state:
            fault = state.get(fingerprint)
            if fault is None or (fault.repeats == 0 and now >= fault.window_start + self.window):
                return self._open_window(state, fault, fingerprint, subject, request_id, now)
            fold(fault, request_id, now)
            state.put(fault)
            return Decision(send=False, reason="folded", window_start=fault.window_start,
                            first_mailed=fault.first_mailed)  # fmt: skip

    def _open_window(self, state, fault, fingerprint, subject, request_id, now) -> Decision:
        root = fault.root_message_id if fault else None
        if not self._take_mail(state, now):
            fault = Fault(fingerprint, subject, now, root, first_mailed=False)
            fold(fault, request_id, now)
            state.put(fault)
            return Decision(send=False, reason="capped", window_start=now, first_mailed=False)
        message_id = self.make_message_id(fingerprint)
        state.put(Fault(fingerprint, subject, now, root or message_id))
        return Decision(send=True, reason="first", message_id=message_id, in_reply_to=root, window_start=now)

    def _due_summaries(self, store: StateStore, now: float) -> list[Summary]:
        summaries = []
        with store.transaction() as state:
            for fault in state.faults():
                if now < fault.window_start + self.window:
                    continue
                if fault.repeats == 0:
                    if now >= fault.window_start + max(self.window, IDLE_FAULT_KEPT):
                        state.delete(fault.fingerprint)
                elif now >= fault.window_start + self.window + self.claim_delay and self._take_mail(state, now):
                    summaries.append(self._close_window(state, fault, now))
        return summaries

    def _close_window(self, state, fault: Fault, now: float) -> Summary:
        message_id = self.make_message_id(fault.fingerprint)
        summary = Summary(
            fault.fingerprint, fault.subject, fault.repeats, fault.repeats_from, fault.repeats_until,
            fault.first_mailed, message_id, fault.root_message_id, list(fault.request_ids),
        )  # fmt: skip
        # The follow-up is this window's one mail; occurrences from now on are counted for the next one.
        state.put(Fault(fault.fingerprint, fault.subject, now, fault.root_message_id or message_id))
        return summary

    def _take_mail(self, state: StateTransaction, now: float) -> bool:
        hour = int(now // 3600)
        if state.mails_in_hour(hour) >= self.per_hour:
            return False
        state.count_mail(hour)
        return True

    def _note_store_failure(self, error: Exception) -> None:
        if not self.store_failing:
            log.warning("Alert state unavailable (%s: %s); this process throttles alerts alone until it is back",
                        type(error).__name__, error)  # fmt: skip
        self.store_failing = True

    def _note_store_ok(self) -> None:
        if self.store_failing:
            log.warning("Alert state is back; throttling is shared again")
        self.store_failing = False


def fold(fault: Fault, request_id: str, now: float) -> None:
    """Count one more occurrence of a fault for its next follow-up mail."""
    fault.repeats += 1
    fault.repeats_from = fault.repeats_from or now
    fault.repeats_until = now
    fault.request_ids = (fault.request_ids + [request_id])[-REQUEST_IDS_KEPT:]


def add_repeats(fault: Fault, repeats: Repeats) -> None:
    """Count a batch of occurrences folded in one process's memory for the fault's next follow-up mail."""
    fault.repeats += repeats.count
    fault.repeats_from = min(fault.repeats_from or repeats.first, repeats.first)
    fault.repeats_until = max(fault.repeats_until or repeats.last, repeats.last)
    fault.request_ids = (fault.request_ids + repeats.request_ids)[-REQUEST_IDS_KEPT:]


@dataclass
class Repeats:
    """Occurrences of one fault folded in this process's memory and not yet written to the state."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0
    request_ids: list[str] = field(default_factory=list)

    def add(self, request_id: str, at: float) -> None:
        self.first = min(self.first, at) if self.count else at
        self.last = max(self.last, at) if self.count else at
        self.count += 1
        self.request_ids.append(request_id)
        del self.request_ids[:-REQUEST_IDS_KEPT]


@dataclass
class KnownWindow:
    """A fault's window as this process last learnt it from the state, and the repeats it folded since."""

    fingerprint: str
    subject: str
    start: float
    first_mailed: bool
    repeats: Repeats = field(default_factory=Repeats)
    written: float = float("-inf")  # when this process last wrote the fault's repeats: the first is written at once


class KnownWindows:
    """The windows this process knows, in memory and behind one lock: requests fold into them, the listener writes."""

    def __init__(self, window: float):
        self.window = window
        self.lock = threading.Lock()
        self.faults: dict[str, KnownWindow] = {}

    def fold(self, fingerprint: str, request_id: str, at: float) -> bool:
        # Until its end a window cannot change in the state (a new one opens only after it), so a repeat
        # inside a known window is certainly folded there: the state need not be asked.
        with self.lock:
            known = self.faults.get(fingerprint)
            if known is None or at >= known.start + self.window:
                return False
            known.repeats.add(request_id, at)
            return True

    def learn(self, fingerprint: str, subject: str, decision: Decision) -> None:
        with self.lock:
            if len(self.faults) >= KNOWN_FAULTS_KEPT:
                self._forget_ended(decision.window_start)
            earlier = self.faults.get(fingerprint)
            known = KnownWindow(fingerprint, subject, decision.window_start, decision.first_mailed)
            if earlier is not None:  # repeats of the earlier window folded meanwhile are still to be written
                known.repeats, known.written = earlier.repeats, earlier.written
            self.faults[fingerprint] = known

    def take_repeats(self, now: float, interval: float, everything: bool, fingerprint: str | None):
        """Return (window, repeats) for each fault whose repeats are to be written now, and start them afresh."""
        batches = []
        with self.lock:
            for known in self.faults.values():
                due = everything or known.fingerprint == fingerprint or now >= known.written + interval
                if known.repeats.count and due:
                    batches.append((known, known.repeats))
                    known.repeats, known.written = Repeats(), now
        return batches

    def write_due_in(self, now: float, interval: float, fingerprint: str | None) -> float | None:
        with self.lock:
            faults = [self.faults.get(fingerprint)] if fingerprint else list(self.faults.values())
            due = [known.written + interval for known in faults if known is not None and known.repeats.count]
        return max(0.0, min(due) - now) if due else None

    def forget_ended(self, now: float) -> None:
        with self.lock:
            self._forget_ended(now)

    def _forget_ended(self, now: float) -> None:
        for fingerprint, known in list(self.faults.items()):
            if now >= known.start + self.window and not known.repeats.count:
                del self.faults[fingerprint]


class MemoryStore:
    """State in this process only: the fallback when the shared state is out of reach."""

    def __init__(self):
        self.lock = threading.Lock()
        self.data: dict[str, Fault] = {}
        self.mails: dict[int, int] = {}

    @contextmanager
    def transaction(self) -> Iterator[MemoryStore]:
        with self.lock:
            yield self

    def get(self, fingerprint):
        return self.data.get(fingerprint)

    def put(self, fault):
        self.data[fault.fingerprint] = fault

    def delete(self, fingerprint):
        self.data.pop(fingerprint, None)

    def faults(self):
        return list(self.data.values())

    def mails_in_hour(self, hour):
        return self.mails.get(hour, 0)

    def count_mail(self, hour):
        self.mails = {hour: self.mails.get(hour, 0) + 1}


class SqliteStore:
    """State in a SQLite file that every process of the host opens; BEGIN IMMEDIATE makes each step atomic."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS faults (fingerprint TEXT PRIMARY KEY, data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS mails (hour INTEGER PRIMARY KEY, count INTEGER NOT NULL)",
    )

    def __init__(self, path: str | Path, timeout: float = 2.0):
        self.path = str(path)
        self.timeout = timeout

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            for statement in self.SCHEMA:
                connection.execute(statement)
            yield SqliteTransaction(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()


class SqliteTransaction:
    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def get(self, fingerprint):
        row = self.connection.execute("SELECT data FROM faults WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return Fault(**json.loads(row[0])) if row else None

    def put(self, fault):
        self.connection.execute(
            "INSERT OR REPLACE INTO faults (fingerprint, data) VALUES (?, ?)", (fault.fingerprint, dumps(fault))
        )

    def delete(self, fingerprint):
        self.connection.execute("DELETE FROM faults WHERE fingerprint = ?", (fingerprint,))

    def faults(self):
        return [Fault(**json.loads(data)) for (data,) in self.connection.execute("SELECT data FROM faults")]

    def mails_in_hour(self, hour):
        row = self.connection.execute("SELECT count FROM mails WHERE hour = ?", (hour,)).fetchone()
        return row[0] if row else 0

    def count_mail(self, hour):
        self.connection.execute("DELETE FROM mails WHERE hour < ?", (hour,))
        self.connection.execute(
            "INSERT INTO mails (hour, count) VALUES (?, 1) ON CONFLICT (hour) DO UPDATE SET count = count + 1", (hour,)
        )


class RedisStore:
    """State in Redis, shared by every host that uses the same URL and prefix; a lock makes each step atomic."""

    def __init__(self, url: str, prefix: str = "microblog:alerts:", timeout: float = 2.0):
        import redis  # only needed when Redis is configured

        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.prefix = prefix
        self.timeout = timeout

    @contextmanager
    def transaction(self) -> Iterator[RedisTransaction]:
        lock = self.client.lock(self.prefix + "lock", timeout=10, blocking_timeout=self.timeout)
        if not lock.acquire():
            raise TimeoutError("could not take the alert state lock in Redis")
        try:
            yield RedisTransaction(self.client, self.prefix)
        finally:
            lock.release()


class RedisTransaction:
    def __init__(self, client, prefix: str):
        self.client = client
        self.faults_key = prefix + "faults"
        self.mails_prefix = prefix + "mails:"

    def get(self, fingerprint):
        data = self.client.hget(self.faults_key, fingerprint)
        return Fault(**json.loads(data)) if data else None

    def put(self, fault):
        self.client.hset(self.faults_key, fault.fingerprint, dumps(fault))

    def delete(self, fingerprint):
        self.client.hdel(self.faults_key, fingerprint)

    def faults(self):
        return [Fault(**json.loads(data)) for data in self.client.hvals(self.faults_key)]

    def mails_in_hour(self, hour):
        return int(self.client.get(f"{self.mails_prefix}{hour}") or 0)

    def count_mail(self, hour):
        key = f"{self.mails_prefix}{hour}"
        self.client.incr(key)
        self.client.expire(key, 7200)


def dumps(fault: Fault) -> str:
    return json.dumps(asdict(fault))
