"""The warnings job on APScheduler's BackgroundScheduler.

One job fans out to every cluster, rather than one job per cluster: the lease is taken once per
round, the alert records are read once per round, and the bound on concurrent probes is one
explicit pool (fanout.py) instead of APScheduler's executor sized for hundreds of jobs. A slow
or hung cluster does not hold the others back: outcomes are handled as they complete and each
probe has its own deadline. The job runs alone (`max_instances=1`); rounds missed while one ran
long are merged into one (`coalesce`) and a round that starts late still runs if it is less than
an interval late (`misfire_grace_time`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot.config import Config
from bot.diagnostics.keeper import Keepers
from bot.notify import Notifier
from bot.store import Store
from bot.warnings.watcher import Watcher, watched

log = logging.getLogger(__name__)

JOB_ID = "pgconn-warnings"


class WarningsScheduler:
    """Runs `watcher.run_round_safely` every `interval_s` seconds, the first one at start."""

    def __init__(
        self,
        watcher: Watcher,
        interval_s: float | None = None,
        *,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.watcher = watcher
        self.interval_s = float(interval_s or watcher.warn.interval_seconds)
        self._on_stop = on_stop
        self._scheduler = BackgroundScheduler(
            executors={"default": JobExecutor(max_workers=1)}, timezone=UTC
        )
        self._halt = threading.Event()
        # Its own thread, not a job: it must renew the lease while a long round holds the
        # scheduler's one worker.
        self._heartbeat = threading.Thread(
            target=self._beat, name="pgconn-warnings-lease", daemon=True
        )

    def _beat(self) -> None:
        while not self._halt.wait(self.watcher.heartbeat_s):
            self.watcher.renew_lease()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self, *, now: bool = True) -> None:
        self._scheduler.add_job(
            self.watcher.run_round_safely,
            "interval",
            seconds=self.interval_s,
            id=JOB_ID,
            name="pgconn warnings round",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.interval_s)),
            next_run_time=datetime.now(UTC) if now else None,
        )
        self._scheduler.start()
        self._heartbeat.start()
        log.info(
            "warnings: %d cluster(s) every %.0f s (lease holder %s)",
            len(self.watcher.clusters),
            self.interval_s,
            self.watcher.holder,
        )

    def stop(self) -> None:
        """Graceful: no new round starts, a running one stops taking outcomes and finishes
        what it was doing, then connections are closed and the lease handed back."""
        self.watcher.stop()
        self._halt.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.watcher.close()
        if self._on_stop is not None:
            self._on_stop()


def start_warnings(
    config: Config,
    notifier: Notifier,
    store: Callable[[], Store],
    keepers: Keepers | None = None,
) -> WarningsScheduler | None:
    """Start the warnings job on the process's state store (what `pgconn serve` runs); None
    when no cluster is watched (none has an alert channel, or all have warnings disabled)."""
    if not watched(config):
        log.info("warnings: off (no cluster has an alert_channel, nor warnings.alert_channel)")
        return None
    scheduler = WarningsScheduler(Watcher(config, store(), notifier, keepers=keepers))
    scheduler.start()
    return scheduler
