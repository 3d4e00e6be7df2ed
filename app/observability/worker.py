"""One background thread per process fed by a bounded queue, after sentry-python's BackgroundWorker.

The alert mails (app/observability/alerts/) and the site's own mail (app/auth/mail.py) each run one,
so a request only queues its work. The thread starts on first use, and again in a forked child
(threads do not survive fork), so an app built before gunicorn forks its workers sends from each of
them. `submit` never waits.
"""

import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("app.worker")
WAKE, STOP = object(), object()


class BackgroundWorker:
    """Call `process(item)` for each item submitted, and `between()` after each item and when the queue is quiet.

    `between` returns how long the queue may stay quiet; `on_start` runs when the thread starts in a process;
    `name` names the thread (in a stack dump) and its failures (in the log).
    """

    def __init__(self, process: Callable, between: Callable[[], float], queue_size: int, on_start: Callable,
                 name: str):  # fmt: skip
        self.process, self.between, self.on_start, self.name = process, between, on_start, name
        self.queue_size = queue_size
        self.queue: queue.Queue = queue.Queue(queue_size)
        self.pid = self.thread = None
        self.lock, self.lock_pid = threading.Lock(), os.getpid()
        self.woken = False

    def running_here(self) -> bool:
        return self.pid == os.getpid()

    def start(self) -> None:
        """Start the thread unless it runs in this process already; cheap when it does."""
        if self.running_here():
            return
        if self.lock_pid != os.getpid():  # a lock copied by fork may be held by a thread that did not come along
            self.lock, self.lock_pid = threading.Lock(), os.getpid()
        with self.lock:
            if not self.running_here():
                self.queue, self.woken = queue.Queue(self.queue_size), False  # likewise the queue's own lock
                self.on_start()
                self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
                self.thread.start()
                self.pid = os.getpid()

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
        """Have the thread call `between` now (when the queue is full it does so after each item anyway)."""
        if not self.woken:
            self.woken = self.submit(WAKE)

    def flush(self, timeout: float) -> bool:
        """Wait until the items queued so far are processed; return False if that took longer than `timeout`."""
        done = threading.Event()
        try:
            self.queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float) -> None:
        """Process what is queued (within `timeout`, as far as it goes) and stop the thread."""
        if self.running_here() and self.flush(timeout):
            self.queue.put(STOP)
            self.thread.join(timeout)
        self.pid = self.thread = None

    def run(self) -> None:
        wait = 0.0
        while (item := self.next_item(wait)) is not STOP:
            if item is WAKE:
                self.woken = False
            elif isinstance(item, threading.Event):
                item.set()
            elif item is not None:
                self.call(self.process, item)
            wait = self.call(self.between) or 0.05

    def next_item(self, wait: float):
        try:
            return self.queue.get(timeout=wait)
        except queue.Empty:
            return None

    def call(self, function: Callable, *args):
        try:
            return function(*args)
        except Exception:
            log.exception("A step of the %s thread failed", self.name, extra={"no_alert": True})
            return None
