"""One round of warnings: take the lease, probe every cluster, apply the rules, post, update
and reply through the Notifier, and keep the alert state in the store.

Alert records are read from the store once per round (another replica may have held the lease
since the last one) and written with their version, so two writers cannot both win. A new
incident's record is written before its message is posted: if the post fails, the next round
sees a record without a message and posts again, instead of forgetting the incident.
Every failure of one cluster, one message or the store is logged and costs at most that round;
nothing here raises into the scheduler.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace

from bot.config import ClusterConfig, Config
from bot.diagnostics.keeper import Keepers
from bot.notify import Notice, Notifier
from bot.observability import metrics
from bot.redact import redact_text
from bot.store import Store
from bot.warnings import render
from bot.warnings.fanout import probe_all
from bot.warnings.levels import levels_for
from bot.warnings.model import (
    ClusterResult,
    EntityKind,
    Evaluation,
    Probe,
    ProbeFailure,
    Usage,
)
from bot.warnings.probe import Prober
from bot.warnings.record import AlertRecord, from_state, to_state
from bot.warnings.rules import (
    Action,
    Policy,
    Step,
    decide,
    decide_gone,
    decide_reachable,
    decide_unreachable,
    due,
)
from bot.warnings.trend import NO_TREND, Sample, Trend, trend

log = logging.getLogger(__name__)

LEASE = "warnings"
_USAGE_KINDS = {EntityKind.SERVER, EntityKind.ROLE, EntityKind.DATABASE, EntityKind.POOLER}
Key = tuple[str, str, str]


def watched(config: Config) -> list[ClusterConfig]:
    """The clusters the scheduler probes: warnings enabled, and somewhere to say them."""
    return [
        c
        for c in config.clusters.values()
        if c.warnings.enabled and (c.alert_channel or config.warnings.alert_channel)
    ]


def default_holder() -> str:
    """This replica's lease holder id when `warnings.holder` is not set."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Taken:
    """An action the round took for one entity (for logs and tests)."""

    cluster: str
    kind: EntityKind
    entity: str
    action: Action


@dataclass(frozen=True, slots=True)
class RoundReport:
    """`held` is False when another replica holds the lease (nothing was probed)."""

    held: bool
    results: tuple[ClusterResult, ...] = ()
    taken: tuple[Taken, ...] = ()


class Watcher:
    """Probes the watched clusters (`watched`) round after round.

    `run_round` is what the scheduler calls; tests call it directly, with their own clock.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        notifier: Notifier,
        *,
        clock: Callable[[], float] = time.time,
        holder: str | None = None,
        keepers: Keepers | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.warn = config.warnings
        self.holder = holder or config.warnings.holder or default_holder()
        self.policy = Policy.of(config.warnings)
        self.secrets = config.secrets()
        self._probers = {
            c.name: Prober(
                c,
                timeout_s=self.warn.probe_timeout_seconds,
                secrets=self.secrets,
                clock=clock,
                # A bot's kept diagnostics connection: one connection per cluster, not two.
                keeper=keepers.postgres(c) if keepers is not None else None,
            )
            for c in watched(config)
        }
        workers = max(1, min(self.warn.concurrency, len(self._probers)))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pgconn-probe")
        # Per cluster, per (kind, name): the recent samples, oldest first. Tuples rather than
        # deques: thousands of entities, and a deque costs four times a ten-item tuple.
        self._samples: dict[str, dict[tuple[str, str], tuple[Sample, ...]]] = {}
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._round = threading.Lock()
        self._holding = False

    @property
    def clusters(self) -> list[str]:
        return list(self._probers)

    @property
    def lease_ttl_s(self) -> float:
        # The holder renews the lease every heartbeat_s (WarningsScheduler), however long a
        # round runs, so the lease can be shorter than an interval: a replica that dies is
        # replaced at the next round of another one after at most ttl + interval (< 2 intervals).
        return max(3.0, 0.75 * self.warn.interval_seconds)

    @property
    def heartbeat_s(self) -> float:
        return self.lease_ttl_s / 3

    def renew_lease(self) -> bool:
        """Keep the lease this replica holds alive between rounds; never takes it over (that is
        the round's job, so a standby only starts probing at a round)."""
        if not self._holding:
            return False
        try:
            self._holding = self.store.acquire_lease(
                LEASE, self.holder, now=self.clock(), ttl_s=self.lease_ttl_s
            )
        except Exception as exc:  # the next round retries; never kill the thread
            log.warning(
                "renewing the warnings lease failed: %s",
                self._redact(f"{type(exc).__name__}: {exc}"),
            )
            self._holding = False
        return self._holding

    # -- the round -----------------------------------------------------------------------------

    def run_round(self) -> RoundReport:
        with self._round:
            now = self.clock()
            self._holding = self.store.acquire_lease(
                LEASE, self.holder, now=now, ttl_s=self.lease_ttl_s
            )
            if not self._holding:
                log.debug("warnings lease held by another replica; round skipped")
                return RoundReport(held=False)
            records: dict[Key, AlertRecord] = {}
            stored: dict[str, list[Key]] = {}  # per cluster, what the store held
            for state in self.store.alerts():
                record = from_state(state)
                if record is not None and record.cluster in self._probers:
                    records[record.key] = record
                    stored.setdefault(record.cluster, []).append(record.key)
            results: list[ClusterResult] = []
            taken: list[Taken] = []
            outcomes = probe_all(
                list(self._probers.values()),
                self._pool,
                limit_s=2.0 * self.warn.probe_timeout_seconds,
                stop=self._stop,
                secrets=self.secrets,
            )
            with closing(outcomes):
                for outcome in outcomes:
                    try:
                        results.append(self._cluster(outcome, records, stored, taken))
                    except Exception as exc:  # the store or a bug: this cluster, this round
                        log.error(
                            "%s: warnings round failed: %s",
                            outcome.cluster,
                            self._redact(f"{type(exc).__name__}: {exc}"),
                        )
                        results.append(ClusterResult(outcome.cluster, outcome))
            order = {name: i for i, name in enumerate(self._probers)}
            results.sort(key=lambda r: order.get(r.cluster, 0))
            return RoundReport(held=True, results=tuple(results), taken=tuple(taken))

    def run_round_safely(self) -> RoundReport | None:
        """The scheduler's job: a round, with any failure logged (secrets masked)."""
        try:
            return self.run_round()
        except Exception as exc:
            log.error("warnings round failed: %s", self._redact(f"{type(exc).__name__}: {exc}"))
            return None

    def _cluster(
        self,
        outcome: Probe | ProbeFailure,
        records: dict[Key, AlertRecord],
        stored: dict[str, list[Key]],
        taken: list[Taken],
    ) -> ClusterResult:
        name = outcome.cluster
        cluster = self.config.clusters[name]
        channel = self._channel(cluster)
        reach_key = (name, EntityKind.CLUSTER.value, "")
        if isinstance(outcome, ProbeFailure):
            metrics.PROBE_FAILURES.labels(name).inc()
            self._failures[name] = self._failures.get(name, 0) + 1
            log.info(
                "%s: probe failed (%d in a row): %s", name, self._failures[name], outcome.reason
            )
            step = decide_unreachable(
                records.get(reach_key),
                outcome,
                self._failures[name],
                channel=channel,
                now=outcome.at,
                policy=self.policy,
            )
            self._apply_reach(step, records.get(reach_key), records, taken, outcome.at)
            return ClusterResult(name, outcome)

        self._failures[name] = 0
        now = outcome.taken_at
        if reach_key in records:
            reach = records[reach_key]
            self._apply_reach(
                decide_reachable(reach, now=now, policy=self.policy), reach, records, taken, now
            )

        rings = self._rings(name, outcome, records)
        evaluations = []
        for usage in outcome.usages:
            key = (name, usage.kind.value, usage.name)
            samples = rings[(usage.kind.value, usage.name)]
            levels = levels_for(self.warn, cluster.warnings, usage.kind, usage.name)
            prev = records.get(key)
            step = decide(
                prev,
                usage,
                levels,
                samples,
                cluster=name,
                channel=channel,
                now=now,
                policy=self.policy,
            )
            # The trend costs a few hundred operations: only where someone will read it.
            tr = trend(samples, usage.limit) if step.record is not None else NO_TREND
            evaluations.append(Evaluation(usage, step.level, levels, tr))
            gauge = (name, usage.kind.value, usage.name)
            metrics.USAGE.labels(*gauge).set(usage.current)
            metrics.LIMIT.labels(*gauge).set(usage.limit)
            self._apply_usage(step, prev, usage, tr, records, taken, now)

        listed = {(name, u.kind.value, u.name) for u in outcome.usages}
        for key in stored.get(name, ()):
            gone = records.get(key)
            if gone is not None and gone.kind in _USAGE_KINDS and key not in listed:
                step = decide_gone(gone, now=now, policy=self.policy)
                self._apply_usage(step, gone, None, NO_TREND, records, taken, now)
        return ClusterResult(name, outcome, tuple(evaluations))

    def _rings(
        self, cluster: str, probe: Probe, records: dict[Key, AlertRecord]
    ) -> dict[tuple[str, str], tuple[Sample, ...]]:
        """This cluster's samples with the probe's added, at most `warnings.samples` each;
        entities the probe no longer lists are dropped. A fresh process starts from the samples
        stored with open alerts, so a restart does not lose the trend of what matters."""
        old = self._samples.get(cluster, {})
        keep = self.warn.samples - 1
        rings: dict[tuple[str, str], tuple[Sample, ...]] = {}
        for usage in probe.usages:
            ident = (usage.kind.value, usage.name)
            ring = old.get(ident)
            if ring is None:
                record = records.get((cluster, *ident))
                ring = record.samples if record else ()
            sample = Sample(at=probe.taken_at, current=usage.current, idle=usage.idle)
            rings[ident] = (*ring[-keep:], sample) if keep else (sample,)
        self._samples[cluster] = rings
        return rings

    def _channel(self, cluster: ClusterConfig) -> str | None:
        return cluster.alert_channel or self.warn.alert_channel

    # -- applying steps ------------------------------------------------------------------------

    def _apply_usage(
        self,
        step: Step,
        prev: AlertRecord | None,
        usage: Usage | None,
        tr: Trend,
        records: dict[Key, AlertRecord],
        taken: list[Taken],
        now: float,
    ) -> None:
        record = step.record
        if step.action is Action.FORGET:
            if prev is not None:
                self._forget(prev, records)
            return
        if record is None:
            return
        if step.action not in (Action.NONE, Action.UPDATE):
            taken.append(Taken(record.cluster, record.kind, record.entity, step.action))
        if step.action is Action.RECOVER:
            over = render.RecoveryView(
                cluster=record.cluster,
                kind=record.kind,
                entity=record.entity,
                since=prev.since if prev else record.since,
                now=now,
                peak=record.peak,
                limit=record.limit,
                usage=usage,
                peak_limit=record.peak_limit,
            )
            self._reply(record, render.recovered(over))
            self._edit(record, render.resolved(over))
            self._save(record, records)
            return
        if usage is None or not record.is_open:
            if record != prev:
                self._save(record, records)
            return

        view = render.WarningView(
            cluster=record.cluster,
            usage=usage,
            level=step.level,
            trend=tr,
            since=record.since,
            peak=record.peak,
            now=now,
            peak_limit=record.peak_limit,
        )
        message = render.warning(view)
        mark = render.fingerprint(view)
        if step.action is Action.OPEN:
            record = self._open(record, message, mark, now, records)
        elif step.action in (Action.ESCALATE, Action.REOPEN):
            reply = (
                render.escalated(view) if step.action is Action.ESCALATE else render.reopened(view)
            )
            if self._edit(record, message):
                record = replace(record, fingerprint=mark, notified_at=now)
            self._reply(record, reply)
            self._save(record, records)
        else:
            if due(record, mark, now=now, policy=self.policy) and self._edit(record, message):
                record = replace(record, fingerprint=mark, notified_at=now)
                taken.append(Taken(record.cluster, record.kind, record.entity, Action.UPDATE))
            self._save(record, records)

    def _apply_reach(
        self,
        step: Step,
        prev: AlertRecord | None,
        records: dict[Key, AlertRecord],
        taken: list[Taken],
        now: float,
    ) -> None:
        record = step.record
        if step.action is Action.FORGET:
            if prev is not None:
                self._forget(prev, records)
            return
        if record is None or step.action is Action.NONE:
            return
        taken.append(Taken(record.cluster, record.kind, record.entity, step.action))
        if step.action is Action.OPEN:
            self._open(
                record,
                render.unreachable(record.cluster, record.reason, record.since),
                record.reason,
                now,
                records,
            )
        elif step.action is Action.UPDATE:
            self._edit(record, render.unreachable(record.cluster, record.reason, record.since))
            self._save(record, records)
        elif step.action is Action.REOPEN:
            self._edit(record, render.unreachable(record.cluster, record.reason, record.since))
            self._reply(record, render.unreachable_again(record.cluster, record.reason))
            self._save(record, records)
        elif step.action is Action.RECOVER:
            since = prev.since if prev else record.since
            self._reply(record, render.reachable(record.cluster, since, now))
            self._edit(record, render.reachable_resolved(record.cluster, since, now))
            self._save(record, records)

    def _open(
        self,
        record: AlertRecord,
        message: Notice,
        mark: str,
        now: float,
        records: dict[Key, AlertRecord],
    ) -> AlertRecord:
        """Claim the incident in the store, then post its message and store where it is."""
        claimed = self._save(record, records)
        if claimed is None or claimed.channel is None:
            return claimed or record
        ts = self._post(claimed, message)
        if ts is None:
            return claimed  # the next round posts again
        posted = replace(claimed, message_ts=ts, fingerprint=mark, notified_at=now)
        return self._save(posted, records) or posted

    # -- the store and the notifier, failures contained -----------------------------------------

    def _save(self, record: AlertRecord, records: dict[Key, AlertRecord]) -> AlertRecord | None:
        """Write `record` over the version it was read at; the stored record, or None when
        another writer got there first (re-read; the next round decides again)."""
        if self.store.put_alert(to_state(record)):
            stored = replace(record, version=record.version + 1)
            records[record.key] = stored
            return stored
        log.warning(
            "%s %s %s: alert state changed under us; re-read",
            record.cluster,
            record.kind.value,
            record.entity,
        )
        fresh = self.store.get_alert(*record.key)
        fresh_record = from_state(fresh) if fresh is not None else None
        if fresh_record is None:
            records.pop(record.key, None)
        else:
            records[record.key] = fresh_record
        return None

    def _forget(self, record: AlertRecord, records: dict[Key, AlertRecord]) -> None:
        self.store.delete_alert(to_state(record))
        records.pop(record.key, None)

    def _post(self, record: AlertRecord, notice: Notice) -> str | None:
        if record.channel is None:
            return None
        try:
            ts = self.notifier.post(record.channel, notice)
            metrics.WARNINGS_POSTED.labels(record.cluster, record.status.value).inc()
            return ts
        except Exception as exc:
            log.error(
                "%s: posting the warning to %s failed: %s",
                record.cluster,
                record.channel,
                self._redact(f"{type(exc).__name__}: {exc}"),
            )
            return None

    def _edit(self, record: AlertRecord, notice: Notice) -> bool:
        if record.channel is None or record.message_ts is None:
            return False
        try:
            self.notifier.update(record.channel, record.message_ts, notice)
        except Exception as exc:
            log.error(
                "%s: updating the warning in %s failed: %s",
                record.cluster,
                record.channel,
                self._redact(f"{type(exc).__name__}: {exc}"),
            )
            return False
        return True

    def _reply(self, record: AlertRecord, notice: Notice) -> None:
        if record.channel is None or record.message_ts is None:
            return
        try:
            self.notifier.post(record.channel, notice, thread_ts=record.message_ts)
        except Exception as exc:
            log.error(
                "%s: replying in %s failed: %s",
                record.cluster,
                record.channel,
                self._redact(f"{type(exc).__name__}: {exc}"),
            )

    def _redact(self, text: str) -> str:
        return redact_text(text, self.secrets)

    # -- lifecycle -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask a running round to stop taking outcomes (shutdown)."""
        self._stop.set()

    def close(self) -> None:
        """Stop, drop every kept connection and hand the lease back."""
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._round:
            for prober in self._probers.values():
                prober.abort()  # a probe still running gets an error rather than a closed fd
                prober.close()
            self._holding = False
            try:
                self.store.release_lease(LEASE, self.holder)
            except Exception as exc:
                log.warning(
                    "releasing the warnings lease failed: %s",
                    self._redact(f"{type(exc).__name__}: {exc}"),
                )
