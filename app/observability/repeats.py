"""An error storm's repeats written as one summary line per second, listing the requests it covers.

A fault's message and traceback are written once per window (logs.TracebackGate). A line of its own for
each repeat cost about 180 bytes a failing request: at 1,800 failing requests a second, 3 MB per 10 s,
and the repeats file turned over in minutes, taking with it the references users quote from the error
page. Here a process gathers its repeats per (fingerprint, method, path, status) and writes them as one
line per SUMMARY_INTERVAL: the count, the time span, where the full record is, and the request ids. A
failing request then costs about its id's length (33 bytes), and every reference stays findable.

Gathering is an append under a lock in the request thread. A summary is written when its interval
closes, by whichever comes first: the next repeat record (in its thread, outside the lock), or a
background thread, so the last second of a storm is written though no request follows; and at exit
(`close`, which logging.shutdown calls, as gunicorn's workers exit). A worker killed outright (SIGKILL)
loses the summaries it had not written yet, at most one interval's; the full record was written at once.
"""

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field

from flask import has_request_context

from app.observability.fingerprint import record_fingerprint
from app.observability.scrub import cookie_values, scrub_text
from app.observability.worker import BackgroundWorker

SUMMARY_INTERVAL = 1.0  # seconds of repeats one summary line gathers
# Request ids on one line: with 32-character ids about 7 KB, with the longest a proxy may send (64) 13 KB,
# below the 16 KB at which Docker's log driver and many shippers split a line. A fuller summary is written at
# once and the next one starts.
MAX_IDS = 200
MAX_OPEN = 100  # summaries gathered at once (faults times pages); one more writes them all early
IDLE = 60.0  # how long the background thread sleeps when nothing is gathered (a new summary wakes it)


@dataclass
class Summary:
    """Repeats of one fault on one page in one interval: what a summary line says."""

    fingerprint: str
    method: str
    path: str  # scrubbed as it was gathered: the request's cookie values are known in its own thread only
    status: int
    first_logged: tuple[float, str]  # (time, request id) of the fault's full record
    logger: str
    level: int
    closes_at: float
    first: float = math.inf
    last: float = 0.0
    count: int = 0
    request_ids: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple:
        return self.fingerprint, self.method, self.path, self.status, self.first_logged

    def add(self, record: logging.LogRecord) -> None:
        self.first, self.last = min(self.first, record.created), max(self.last, record.created)
        self.count += 1
        if record.request_id != "-":  # a repeat outside a request (a command, a thread) is counted, not listed
            self.request_ids.append(record.request_id)

    def record(self) -> logging.LogRecord:
        """Return the summary as a log record for the formatters (logs.MicroblogFormatter.summary_fields)."""
        record = logging.LogRecord(self.logger, self.level, __file__, 0, "repeats of %s", (self.fingerprint,), None)
        record.created, record.msecs = self.first, (self.first % 1) * 1000
        record.request_id, record.method, record.path, record.status = "-", self.method, self.path, self.status
        record.summary = self
        return record


class RepeatSummaries(logging.Handler):
    """Gather repeat records (logs.is_repeat) and hand `target` one summary record per key and interval.

    `target` formats and writes (the repeats file, or stdout with every other record); it is closed with
    this handler when `owns_target`. `secrets` are the settings' secret values (scrub.known_secrets).
    """

    def __init__(self, target: logging.Handler, owns_target: bool, secrets: list[str],
                 interval: float = SUMMARY_INTERVAL, max_ids: int = MAX_IDS, max_open: int = MAX_OPEN):  # fmt: skip
        super().__init__()
        self.target, self.owns_target, self.secrets = target, owns_target, secrets
        self.interval, self.max_ids, self.max_open = interval, max_ids, max_open
        self.open: dict[tuple, Summary] = {}
        self.next_close = math.inf
        self.gather_lock, self.pid = threading.Lock(), os.getpid()
        self.flusher = BackgroundWorker(lambda item: None, self.write_due, 4, lambda: None, "log-repeats")

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and gather without the handler's lock: requests append side by side under the gathering lock."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            opened, due = self.gather(record)
            self.write(due)
            if opened:
                self.flusher.wake()  # to write this summary when its interval closes, should no record follow
        except Exception:
            self.handleError(record)

    def gather(self, record: logging.LogRecord) -> tuple[bool, list[Summary]]:
        """Add the repeat to its summary; return whether that summary is new, and the summaries due now."""
        key = (record_fingerprint(record), getattr(record, "method", "-"), self.gathered_path(record),
               getattr(record, "status", 500), record.first_logged)  # fmt: skip
        self.forget_a_parents_summaries()
        with self.gather_lock:
            due = self.take_all() if key not in self.open and len(self.open) >= self.max_open else []
            summary = self.open.get(key)
            if opened := summary is None:
                summary = self.open[key] = self.new_summary(key, record)
            summary.add(record)
            if len(summary.request_ids) >= self.max_ids:
                due.append(self.open.pop(key))
            if record.created >= self.next_close:
                due += self.take_due(record.created)
            self.next_close = min((s.closes_at for s in self.open.values()), default=math.inf)
        return opened, due

    def gathered_path(self, record: logging.LogRecord) -> str:
        """Return the record's path scrubbed as the formatters scrub it, with the request's cookie values too."""
        secrets = self.secrets + cookie_values() if has_request_context() else self.secrets
        return scrub_text(getattr(record, "path", "-"), secrets)

    def new_summary(self, key: tuple, record: logging.LogRecord) -> Summary:
        now = time.time()
        closes_at = (math.floor(now / self.interval) + 1) * self.interval  # aligned: a line per second of the clock
        return Summary(*key, logger=record.name, level=record.levelno, closes_at=closes_at)

    def take_due(self, now: float) -> list[Summary]:
        due = [summary for summary in self.open.values() if summary.closes_at <= now]
        for summary in due:
            del self.open[summary.key]
        return due

    def take_all(self) -> list[Summary]:
        taken, self.open = list(self.open.values()), {}
        return taken

    def write(self, summaries: list[Summary]) -> None:
        for summary in sorted(summaries, key=lambda each: each.first):
            self.target.handle(summary.record())

    def write_due(self) -> float:
        """In the background thread: write the summaries whose interval has closed; return how long to sleep."""
        self.forget_a_parents_summaries()
        now = time.time()
        with self.gather_lock:
            due = self.take_due(now)
            self.next_close = min((s.closes_at for s in self.open.values()), default=math.inf)
            wait = self.next_close - now
        self.write(due)
        return min(max(wait, 0.01), IDLE)

    def forget_a_parents_summaries(self) -> None:
        """In a forked child, drop the summaries copied from the parent: the parent writes them. Its lock may
        have been held by a thread that did not come along, so this one gets a fresh lock."""
        if self.pid != os.getpid():
            self.gather_lock, self.pid, self.open, self.next_close = threading.Lock(), os.getpid(), {}, math.inf

    def flush(self) -> None:
        """Write every summary gathered so far, its interval closed or not."""
        self.forget_a_parents_summaries()
        with self.gather_lock:
            due, self.next_close = self.take_all(), math.inf
        self.write(due)  # the target flushes each record it writes

    def close(self) -> None:
        self.flush()
        self.flusher.close(timeout=1.0)
        if self.owns_target:
            self.target.close()
        super().close()
