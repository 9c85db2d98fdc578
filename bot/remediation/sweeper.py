"""Expires pending requests in the background and tells the adapter, so a request's message says
"expired" even when nobody clicks it again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.remediation.approvals import Remediation
from bot.store import ApprovalRequest

log = logging.getLogger(__name__)


class ExpirySweeper:
    """Every `interval_s`, expire what is due and call `on_expired` for each request expired.
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

    def sweep(self) -> int:
        """One round; how many requests it expired."""
        expired = self.remediation.expire_due()
        for req in expired:
            try:
                self.on_expired(req)
            except Exception:
                log.exception("telling that approval %s expired failed", req.id)
        return len(expired)

    def start(self) -> ExpirySweeper:
        self._thread = threading.Thread(target=self._loop, name="pgconn-expiry", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception:
                log.exception("the approval expiry round failed")
