"""How far the alert path has got: the moments after which no more alert mail can come.

"No more mail arrives" cannot be awaited, but the point after which none can be sent usually can: the
worker has processed its queue, run the round that claims due follow-ups, or the shared state has
counted every occurrence. A test waits for that, then counts the inbox (Inbox.exactly).
"""

import time
from email.message import EmailMessage

from flask import Flask

from app.observability.fault_store import RedisStore, SqliteStore, list_faults
from tests.support.smtp import Inbox
from tests.support.waiting import wait_until


def alerts_processed(app: Flask, timeout: float = 10.0) -> None:
    """Wait until the app's alert worker has decided on every record queued in this process, and mailed them.

    A record is queued in the thread that logs it, before the response: after this, no first mail for a
    request answered so far can still come (a follow-up waits for its window: `follow_ups_claimed`).
    """
    worker = app.extensions["alerts"].worker
    if worker.running_here():  # else nothing was ever queued here: queueing starts it
        assert worker.flush(timeout), f"the alert worker was still busy after {timeout} s"


def follow_ups_claimed(app: Flask, timeout: float = 10.0) -> None:
    """Wait until the app's alert worker has claimed, and mailed, every follow-up due for the occurrences so far.

    A window holding one of them ends within ALERT_WINDOW from now. Its follow-up is claimed in the worker's
    first round (AlertHandler.between) after that and the claim delay, which lets every process write its
    counts; a wrong follow-up (a count kept twice, the repeats of a muted fault) would be claimed then too.
    """
    handler = app.extensions["alerts"]
    due = time.monotonic() + handler.throttle.window + handler.throttle.claim_delay
    # A round sets next_round as it begins: the latest began at next_round - round.
    what = "the alert worker's round after the window"
    wait_until(lambda: handler.next_round - handler.round >= due, handler.throttle.window + timeout, what)
    alerts_processed(app, timeout)  # that round has finished, and sent what it claimed


def occurrences_counted(
    store: SqliteStore | RedisStore, fingerprint: str, occurrences: int, timeout: float = 15.0
) -> None:
    """Wait until the shared state counts `occurrences` of the fault (or more), written by any process.

    A process decides on an occurrence (mail it, fold it) in the change that counts it, or counts it in
    memory as a repeat of a window it knows, which can only make a follow-up. Once all are counted, no
    process can still decide to send a first mail for them.
    """

    def count() -> int:
        return sum(fault.count for fault in list_faults(store) if fault.fingerprint == fingerprint)

    wait_until(lambda: count() >= occurrences, timeout, f"{occurrences} occurrences of {fingerprint} in the state")


def mails_taken_arrived(store: SqliteStore | RedisStore, inbox: Inbox, timeout: float = 15.0) -> list[EmailMessage]:
    """Return the inbox's messages once it holds every mail the shared state has let through this hour.

    A mail (a first one, a follow-up, a regression) is counted against the hourly cap in the change that
    decides it, just before it is sent. The inbox may hold more, from apps on another state.
    """
    taken = store.change(lambda ledger: len(ledger.mails))
    return inbox.wait_for(taken, timeout)
