"""The records of failed requests in the shared store, so that `flask errors find` on any host finds any host's.

A user quotes the reference of an error page; the request may have been served by any host, and its log
lines are on that host alone. With SHARED_STORE_URL, a handler on the app's logger also keeps a short
record of every request that failed: each ERROR record made while serving one (a fault's 500, a request
past its deadline, the database out of reach, a worker killed mid-request as its master reports it), with
the request id, the host, the time, the method and path, the fault's fingerprint and the message,
scrubbed as the log is. Not every access line: only failures, which are what a reference is quoted for.

Records go to one Redis stream, bounded in length (KEPT) and in age (DAYS), written in batches by a
background thread (the shared worker), so a request only queues a small dict; a storm's records are
dropped when the queue is full rather than hold a request. Without a shared store there is nothing here:
`flask errors find` searches this host's logs, and names the other hosts (HOSTS) to search.
"""

import json
import logging
import time
from dataclasses import dataclass

from flask import Flask, has_request_context, request

from app.observability.fingerprint import record_fingerprint
from app.observability.logs import install, one_line
from app.observability.request_id import current_request_id
from app.observability.scrub import known_secrets, scrub_text
from app.observability.worker import BackgroundWorker

KEPT = 10_000  # records: a few MB of Redis; a storm beyond it keeps its newest
DAYS = 14  # and none older than two weeks, the life of the rotated logs at the default size
BATCH_SECONDS = 0.5  # how long a record may wait to be written with others
QUEUE_SIZE = 1000

log = logging.getLogger("app.alerts")


@dataclass(frozen=True)
class Failure:
    """What the shared store keeps of one failed request."""

    request_id: str
    host: str
    at: float
    method: str
    path: str
    fingerprint: str
    message: str

    @classmethod
    def from_json(cls, text: str | bytes) -> "Failure":
        return cls(**json.loads(text))


class FailureStore:
    """The stream of failure records in Redis, bounded in length and age."""

    def __init__(self, url: str, key: str, timeout: float = 2.0, kept: int = KEPT):
        import redis  # only where the shared store is configured

        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.key, self.kept = key, kept

    def add(self, failures: list[Failure]) -> None:
        """Append the records, then trim the stream to its length and age (exactly: a trim costs what it removes)."""
        oldest_ms = int((time.time() - DAYS * 86400) * 1000)  # a stream entry's id starts with its time in ms
        with self.client.pipeline(transaction=False) as pipe:
            for failure in failures:
                pipe.xadd(self.key, {"record": json.dumps(failure.__dict__)}, maxlen=self.kept, approximate=False)
            pipe.xtrim(self.key, minid=oldest_ms, approximate=False)
            pipe.execute()

    def find(self, request_id: str) -> list[Failure]:
        """Return the failures of this request id, oldest first (a request fails once, but a killed worker's
        request is reported by the worker and by its master)."""
        found = []
        for _, fields in self.client.xrange(self.key):
            failure = Failure.from_json(fields[b"record"])
            if failure.request_id == request_id:
                found.append(failure)
        return found


def failure_store(config) -> FailureStore | None:
    if not config.get("SHARED_STORE_URL"):
        return None
    return FailureStore(config["SHARED_STORE_URL"], config["SHARED_STORE_PREFIX"] + "failures")


class FailureHandler(logging.Handler):
    """Keep a record of each failed request in the shared store, from a background thread."""

    def __init__(self, store: FailureStore, host: str, secrets: list[str]):
        super().__init__(logging.ERROR)
        self.store, self.host, self.secrets = store, host, secrets
        self.batch: list[Failure] = []
        self.written = 0.0
        self.said_down = False
        self.worker = BackgroundWorker(self.batch.append, self.between, QUEUE_SIZE, self.batch.clear, "failure-records")

    def emit(self, record: logging.LogRecord) -> None:
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id == "-":
            return  # not made while serving a request: nothing a user could quote
        try:
            method, path = request_line(record)
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                message += f" ({type(error).__name__}: {error})"
            message = scrub_text(one_line(message), self.secrets)[:500]
            failure = Failure(request_id, self.host, record.created, method, path, record_fingerprint(record), message)
            self.worker.submit(failure)  # never waits: a full queue drops it
        except Exception:
            self.handleError(record)

    def between(self) -> float:
        """In the worker: write the batch once it is BATCH_SECONDS old; return how long the queue may wait."""
        if not self.batch:
            return 1.0
        wait = self.written + BATCH_SECONDS - time.monotonic()
        if wait > 0:
            return wait
        batch, self.batch[:] = list(self.batch), []
        self.written = time.monotonic()
        try:
            self.store.add(batch)
        except Exception as error:
            if not self.said_down:
                log.warning("The records of failed requests cannot be written to the shared store (%s: %s); "
                            "they are in this host's log only", type(error).__name__, error,
                            extra={"no_alert": True})  # fmt: skip
            self.said_down = True
        else:
            self.said_down = False
        return 1.0

    def close(self) -> None:
        if self.worker.running_here():
            self.worker.close(2.0)
            if self.batch:
                self.written = float("-inf")
                self.between()
        super().close()


def request_line(record: logging.LogRecord) -> tuple[str, str]:
    """Return the method and path of the request a record was made for (reported from outside it too)."""
    if has_request_context():
        return request.method, request.path
    facts = getattr(record, "request_facts", {}) or {}
    return str(facts.get("Method", "-")), str(facts.get("URL", facts.get("Path", "-")))


def init_failures(app: Flask) -> None:
    """Attach the handler when the shared store is configured (closed with the log's handlers)."""
    store = failure_store(app.config)
    if store is not None:
        install(app.logger, FailureHandler(store, app.config["HOST_NAME"], known_secrets(app.config)))
