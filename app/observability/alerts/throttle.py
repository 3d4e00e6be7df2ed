"""Decide for each alert: mail it now, fold it into a follow-up, or hold it back (the hourly cap).

The decision is taken in the state every worker process shares (and, with Redis, every host): the
fault records and the times of the last hour's mails, kept by app/observability/fault_store.py. When
that store cannot be reached, this process decides alone, in its memory: alerts err on the side of
being sent.

A fault's first occurrence in a window is decided through the shared state, so one process mails
it. A process that knows the window only counts its repeats in memory (cheap enough for the request
thread) and writes the counts at most once a second. A follow-up is claimed a little after its
window ends, once every process has written.

The operator mutes a fault (no mail, still counted) or resolves it (app/observability/faults.py): an
occurrence in a newer release is a regression, mailed once; a late one from the resolved release stays
quiet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from app.observability.fault_store import HOUR, Fault, Ledger, MemoryStore

WRITE_INTERVAL = 1.0  # seconds between two writes of one fault's counted repeats (shorter for short windows)

log = logging.getLogger("app.alerts")
T = TypeVar("T")


@dataclass
class Occurrence:
    """One occurrence the worker asks about."""

    fingerprint: str
    subject: str
    request_id: str
    at: float
    kind: str = ""
    where: str = ""


@dataclass
class Decision:
    action: str  # "mail", "regression", "fold", "hold", "muted" or "resolved" (a late occurrence: no mail)
    fault: Fault  # as it was before this occurrence was mailed: `mailed` says whether a thread exists
    shared: bool = True  # False when the shared state could not be read


class AlertThrottle:
    """Decide, for every alert, whether it is mailed now, folded into a follow-up, or held by the hourly cap."""

    def __init__(self, store, window: float, per_hour: int, release: str = "", host: str = ""):
        self.store, self.fallback = store, MemoryStore()
        self.window, self.per_hour = window, per_hour
        self.release = release  # of this process: a resolved fault seen in a newer one has regressed
        self.host = host  # of this process: the fault list says on which hosts a fault was seen
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

    def decide(self, fingerprint: str, subject: str, request_id: str, at: float, kind: str = "", where: str = ""):
        self.write_counts(at)  # an earlier window's repeats first, so that they count there
        occurrence = Occurrence(fingerprint, subject, request_id, at, kind, where)
        decision = self._change(lambda ledger: self._decide(ledger, occurrence))
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

    def _decide(self, ledger: Ledger, seen: Occurrence) -> Decision:
        fault = ledger.faults.get(seen.fingerprint)
        if fault is None:
            fault = ledger.faults[seen.fingerprint] = Fault(seen.fingerprint, seen.subject, seen.at, seen.at)
        fresh = fault.count == 0  # also a fault that so far holds only feedback (sent before the worker wrote it)
        if fresh:
            fault.first_seen = seen.at
        if fresh or not fault.where:
            fault.kind, fault.where = seen.kind, seen.where
        muted = fault.muted(seen.at)  # before this occurrence counts down a mute by count
        fault.occurred(1, seen.at, [seen.request_id], self.release, self.host)
        if fault.status == "resolved":
            if not is_newer(self.release, fault.resolved_in):
                return self._quiet(fault, seen.at, "resolved")
            fault.status = "regressed"
            fault.new_window(seen.at, seen.subject)
            return self._first_mail(ledger, fault, seen, "regression")
        if muted:
            return self._quiet(fault, seen.at, "muted")
        if not fresh and (fault.repeats or seen.at < fault.window_start + self.window):
            fault.fold(1, seen.at, seen.at, [seen.request_id])
            return Decision("fold", replace(fault))
        fault.new_window(seen.at, seen.subject)
        return self._first_mail(ledger, fault, seen, "mail")

    def _first_mail(self, ledger: Ledger, fault: Fault, seen: Occurrence, action: str) -> Decision:
        if not self._take_mail(ledger, seen.at):
            fault.first_mailed = False
            fault.fold(1, seen.at, seen.at, [seen.request_id])
            return Decision("hold", replace(fault))
        decision = Decision(action, replace(fault))
        fault.mailed_at(seen.at)
        return decision

    def _quiet(self, fault: Fault, at: float, action: str) -> Decision:
        """Count without mail; a window of its own lets each process count the repeats in memory."""
        if at >= fault.window_start + self.window:
            fault.window_start = at
        return Decision(action, replace(fault))

    def _write(self, ledger: Ledger, batches: list[Fault]) -> None:
        for known in batches:  # a fault decided by the other store meanwhile is added here
            fault = ledger.faults.setdefault(known.fingerprint, known.blank())
            if not fault.quiet(known.repeats_until):  # a muted or resolved fault's repeats make no follow-up
                fault.fold_repeats_of(known)
            fault.occurred(known.repeats, known.repeats_until, known.request_ids, self.release, self.host)

    def _claim(self, ledger: Ledger, now: float) -> list[Fault]:
        claimed = []
        for fault in ledger.faults.values():
            ended = now >= fault.window_start + self.window + self.claim_delay
            if fault.repeats and ended and fault.quiet(now):
                fault.clear_repeats()  # counted in the list; the operator asked for no mail
            elif fault.repeats and ended and self._take_mail(ledger, now):
                claimed.append(replace(fault))
                # The follow-up is this window's one mail; occurrences from now on count for the next one.
                fault.window_start, fault.first_mailed = now, True
                fault.mailed_at(now)
                fault.clear_repeats()
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


def is_newer(release: str, than: str | None) -> bool:
    """Whether `release` is later than `than`: numerically when both are dotted numbers, else any other."""
    if not release or release == than or than is None:
        return False
    try:
        return tuple(map(int, release.split("."))) > tuple(map(int, than.split(".")))
    except ValueError:
        return True
