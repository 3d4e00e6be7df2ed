"""Group alerts by fault and throttle them, with state shared by every worker process of a host.

The state lives outside the application database (which may be the very fault): in a small SQLite
file by default, or in Redis when ALERT_STATE_URL is set. When it cannot be read, each process
decides alone from memory, so alerts err on the side of being sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

PROJECT_DIR = Path(__file__).resolve().parents[1]
REQUEST_IDS_KEPT = 5
IDLE_FAULT_KEPT = 24 * 3600  # an idle fault is remembered this long, to thread its next mail with the earlier ones

log = logging.getLogger("app.alerts")


def fingerprint(exc: BaseException) -> str:
    """Name a fault by its exception type and innermost application frame, never by its message."""
    frame = innermost_application_frame(exc.__traceback__)
    place = f"{relative_path(frame.filename)}:{frame.name}:{frame.lineno}" if frame else ""
    kind = type(exc)
    return digest(f"{kind.__module__}.{kind.__qualname__}|{place}")


def record_fingerprint(record: logging.LogRecord) -> str:
    """Return (and remember on the record) the fingerprint of a log record's fault."""
    if not getattr(record, "fingerprint", None):
        exc = record.exc_info[1] if record.exc_info else None
        record.fingerprint = fingerprint(exc) if exc else digest(f"{record.name}|{record.msg}")
    return record.fingerprint


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def innermost_application_frame(tb) -> traceback.FrameSummary | None:
    frames = traceback.extract_tb(tb) if tb else []
    own = [frame for frame in frames if is_application_file(frame.filename)]
    return (own or frames or [None])[-1]


def is_application_file(filename: str) -> bool:
    path = Path(filename).resolve()
    return path.is_relative_to(PROJECT_DIR) and not {"site-packages", ".venv"} & set(path.parts)


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

    def occurrence(self, fingerprint: str, subject: str, request_id: str, now: float | None = None) -> Decision:
        now = time.time() if now is None else now
        try:
            decision = self._occurrence(self.store, fingerprint, subject, request_id, now)
        except Exception as error:  # any failure of the state: decide alone rather than stay silent
            self._note_store_failure(error)
            decision = self._occurrence(self.fallback, fingerprint, subject, request_id, now)
            decision.shared = False
            return decision
        self._note_store_ok()
        return decision

    def due_summaries(self, now: float | None = None) -> list[Summary]:
        """Claim the follow-ups whose window has ended; each is claimed by exactly one process."""
        now = time.time() if now is None else now
        summaries = self._due_summaries(self.fallback, now)
        try:
            summaries += self._due_summaries(self.store, now)
        except Exception as error:
            self._note_store_failure(error)
        return summaries

    def _occurrence(self, store: StateStore, fingerprint, subject, request_id, now) -> Decision:
        with store.transaction() as state:
            fault = state.get(fingerprint)
            if fault is None or (fault.repeats == 0 and now >= fault.window_start + self.window):
                return self._open_window(state, fault, fingerprint, subject, request_id, now)
            fold(fault, request_id, now)
            state.put(fault)
            return Decision(send=False, reason="folded")

    def _open_window(self, state, fault, fingerprint, subject, request_id, now) -> Decision:
        root = fault.root_message_id if fault else None
        if not self._take_mail(state, now):
            fault = Fault(fingerprint, subject, now, root, first_mailed=False)
            fold(fault, request_id, now)
            state.put(fault)
            return Decision(send=False, reason="capped")
        message_id = self.make_message_id(fingerprint)
        state.put(Fault(fingerprint, subject, now, root or message_id))
        return Decision(send=True, reason="first", message_id=message_id, in_reply_to=root)

    def _due_summaries(self, store: StateStore, now: float) -> list[Summary]:
        summaries = []
        with store.transaction() as state:
            for fault in state.faults():
                if now < fault.window_start + self.window:
                    continue
                if fault.repeats == 0:
                    if now >= fault.window_start + max(self.window, IDLE_FAULT_KEPT):
                        state.delete(fault.fingerprint)
                elif self._take_mail(state, now):
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
