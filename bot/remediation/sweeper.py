"""Expires pending requests and reconciles requests left mid-way, in the background, and tells
the adapter, so a request's message says "expired" (or what a run that stopped mid-way did) even
when nobody clicks it again. The first round runs at start-up, so a fix the previous process left
mid-way is settled as soon as its runner's time is up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.remediation.approvals import Remediation
from bot.store import ApprovalRequest

log = logging.getLogger(__name__)


class ExpirySweeper:
    """Every `interval_s` (sooner when a request left mid-way comes due), expire what is due,
    reconcile what was left mid-way, and call `on_expired` for each request either settled.
    Every error is logged and the loop goes on: one bad round must not stop expiry."""

    def __init__(
        self,
        remediation: Remediation,
        on_expired: Callable[[ApprovalRequest], None],
        *,
        interval_s: float = 30.0,
    ) -> None:
        self.remediation = remediation
        self.on_expired = on_expired
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_due: float | None = None

    def sweep(self) -> int:
        """One round; how many requests it expired or reconciled."""
        expired = self.remediation.expire_due()
        try:
            settled, self._next_due = self.remediation.reconcile()
        except Exception:
            log.exception("reconciling approvals left mid-way failed")
            settled, self._next_due = [], None
        for req in [*expired, *settled]:
            try:
                self.on_expired(req)
            except Exception:
                log.exception("telling the state of approval %s failed", req.id)
        return len(expired) + len(settled)

    def start(self) -> ExpirySweeper:
        self._thread = threading.Thread(target=self._loop, name="pgconn-expiry", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _wait_s(self) -> float:
        due = self._next_due
        if due is None:
            return self.interval_s
        return min(self.interval_s, max(due - self.remediation.clock(), 0.0) + 0.5)

    def _loop(self) -> None:
        wait = 0.0  # at once: what a previous process left mid-way
        while not self._stop.wait(wait):
            try:
                self.sweep()
            except Exception:
                log.exception("the approval expiry round failed")
            wait = self._wait_s()
