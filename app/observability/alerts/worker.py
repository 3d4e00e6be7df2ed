"""One background thread per process, fed by a bounded queue: the pattern of sentry-python's BackgroundWorker.

The thread starts on first use and again in a forked child (threads do not survive fork), so an
app built before gunicorn forks its workers alerts from each of them. `submit` never waits: it
says no when the queue is full.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("app.alerts")
WAKE = object()  # wakes the thread early: something is due before its next round
STOP = object()


class BackgroundWorker:
    """Run `process(item)` for each submitted item, and `between()` between items and when the queue is quiet.

    `between` returns how long the queue may stay quiet before it is called again.
    `on_start` runs in the thread's process before the thread starts (after a fork: forget the parent's work).
    """

    def __init__(self, process: Callable, between: Callable[[], float], queue_size: int, on_start: Callable = None):
        self.process = process
        self.between = between
        self.on_start = on_start
        self.queue_size = queue_size
        self.queue: queue.Queue = queue.Queue(queue_size)
        self.pid: int | None = None
        self.thread: threading.Thread | None = None
        self.lock, self.lock_pid = threading.Lock(), os.getpid()
        self.woken = False

    def start(self) -> None:
        """Start the thread unless it already runs in this process; cheap when it does."""
        pid = os.getpid()
        if self.pid == pid:
            return
        if self.lock_pid != pid:  # a lock copied by fork may be held by a thread that did not come along
            self.lock, self.lock_pid = threading.Lock(), pid
        with self.lock:
            if self.pid == pid:
                return
            self.queue = queue.Queue(self.queue_size)  # likewise the queue's own lock
            self.woken = False
            if self.on_start:
                self.on_start()
            self.thread = threading.Thread(target=self.run, name="alert-worker", daemon=True)
            self.thread.start()
            self.pid = pid

    def running_here(self) -> bool:
        return self.pid == os.getpid()

    def full(self) -> bool:
        return self.queue.full()

    def qsize(self) -> int:
        return self.queue.qsize()

    def submit(self, item) -> bool:
        """Queue an item without waiting; return False if the queue is full."""
        self.start()
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def wake(self) -> None:
        """Have the thread call `between` now; one wake-up waits on the queue at most."""
        if not self.woken:
            self.woken = True
            self.submit(WAKE)  # when full, the thread is busy and calls `between` after each item anyway

    def flush(self, timeout: float) -> bool:
        """Wait until the items queued so far are processed; return False if that took longer than `timeout`."""
        if not self.running_here():
            return True
        done = threading.Event()
        try:
            self.queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float) -> None:
        """Process what is queued (bounded by `timeout`) and stop the thread."""
        if not self.running_here():
            return
        if self.flush(timeout):
            self.queue.put(STOP)
            self.thread.join(timeout)
        self.pid = self.thread = None

    def run(self) -> None:
        wait = 0.0
        while True:
            try:
                item = self.queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is STOP:
                return
            if item is WAKE:
                self.woken = False
            elif isinstance(item, threading.Event):
                item.set()
            elif item is not None:
                self.call(self.process, item)
            wait = self.call(self.between) or 0.05

    @staticmethod
    def call(function: Callable, *args):
        try:
            return function(*args)
        except Exception:
            log.exception("Alert worker step failed", extra={"no_alert": True})
            return None
