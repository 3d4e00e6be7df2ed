"""The fault list: every fault the fault store remembers, for `flask errors` and the admin page.

It reads and changes the same records as the alert throttle (alerts/throttle.py), in the same store
(fault_store.py), outside the application database: the list works while the database is the fault.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from flask import Flask, g, has_request_context

from app.observability.fault_store import (
    FEEDBACK_KEPT,
    HOUR,
    HOURS_KEPT,
    Fault,
    Ledger,
    RedisStore,
    SqliteStore,
    state_store,
)
from app.observability.scrub import known_secrets, scrub_text
from app.version import __version__

FEEDBACK_MAX = 2000  # characters of one user's feedback


class NoSuchFault(LookupError):
    """No fault, or more than one, has a fingerprint starting so."""


def release_of(config) -> str:
    """Return the release this process runs: RELEASE when set (a build id, or a test's), else app.version."""
    return config.get("RELEASE") or __version__


def fault_store(app: Flask) -> SqliteStore | RedisStore:
    return state_store(app.config, app.instance_path)


def note_request_fault(fingerprint: str) -> None:
    """Remember, for the 500 page's feedback form, the fault the current request ran into."""
    if has_request_context():
        g.fault_fingerprint = fingerprint


def request_fault() -> str | None:
    """Return the fingerprint of the fault this request ran into, if one was logged."""
    return g.get("fault_fingerprint") if has_request_context() else None


def all_faults(store) -> list[Fault]:
    """Return every fault, the most recently seen first."""
    faults = store.change(lambda ledger: list(ledger.faults.values()))
    return sorted(faults, key=lambda fault: fault.last_seen or fault.first_seen, reverse=True)


def find_fault(store, prefix: str) -> Fault:
    """Return the one fault whose fingerprint starts with `prefix`."""
    return store.change(lambda ledger: one_fault(ledger, prefix))


def one_fault(ledger: Ledger, prefix: str) -> Fault:
    matches = [fault for fingerprint, fault in ledger.faults.items() if fingerprint.startswith(prefix.strip())]
    if len(matches) != 1 or not prefix.strip():
        found = "no fault" if not matches else f"{len(matches)} faults"
        raise NoSuchFault(f"{found} with a fingerprint starting {prefix!r}; `flask errors list` shows them all")
    return matches[0]


def mute(store, prefix: str, until: float | None = None, count: int | None = None) -> Fault:
    """Send no mail of a fault until a time or for a number of occurrences; it is still counted."""

    def change(ledger: Ledger) -> Fault:
        fault = one_fault(ledger, prefix)
        fault.mute_until, fault.mute_left = until, count
        return fault

    return store.change(change)


def unmute(store, prefix: str) -> Fault:
    return mute(store, prefix)


def resolve(store, prefix: str) -> Fault:
    """Mark a fault fixed in the release it was last seen in: only a newer release reopens it, with one mail."""

    def change(ledger: Ledger) -> Fault:
        fault = one_fault(ledger, prefix)
        fault.status, fault.resolved_in = "resolved", fault.release or None
        fault.mute_until = fault.mute_left = None
        return fault

    return store.change(change)


def add_feedback(store, fingerprint: str, request_id: str, text: str, config) -> Fault:
    """Keep what a user wrote on the 500 page, scrubbed and cut, with its request id, on the fault.

    One entry per request: words sent again from the same page replace the earlier ones (a second
    thought, or a form sent twice), so one page cannot push other users' words off the fault.
    """
    text = scrub_text(text.strip()[:FEEDBACK_MAX], known_secrets(config))
    entry = {"request_id": request_id, "text": text, "at": time.time(), "mailed": False}

    def change(ledger: Ledger) -> Fault:
        fault = ledger.faults.get(fingerprint)
        if fault is None:  # the worker has not written the fault yet: the feedback waits for it
            fault = ledger.faults[fingerprint] = Fault(fingerprint, "", entry["at"], entry["at"])
        others = [kept for kept in fault.feedback if kept["request_id"] != request_id]
        fault.feedback = (others + [entry])[-FEEDBACK_KEPT:]
        return fault

    return store.change(change)


def hourly_counts(fault: Fault, now: float | None = None) -> list[int]:
    """Return the occurrences in each of the last 24 hours, oldest first, the current hour last."""
    hour = int((time.time() if now is None else now) // HOUR)
    buckets = dict((h, n) for h, n in fault.hourly)
    return [buckets.get(h, 0) for h in range(hour - HOURS_KEPT + 1, hour + 1)]


def as_dict(fault: Fault, now: float | None = None) -> dict:
    """Return the fault as the list shows it (`--json`): its record plus its shown status and hourly counts."""
    now = time.time() if now is None else now
    data = asdict(fault)
    data.update(state=fault.state(now), last_day=hourly_counts(fault, now))
    return data
