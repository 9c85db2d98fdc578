"""What the listeners share: configuration, playbooks, the Web API, the worker pools."""

from __future__ import annotations

import contextvars
import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Config
from bot.diagnostics.keeper import Keepers
from bot.pasted import Pasted
from bot.playbooks import PlaybookSet
from bot.redact import redact_text
from bot.render.blocks import Message, escape, notice
from bot.signals.model import Signal
from bot.slack.alert_threads import AlertThreads
from bot.slack.incidents import Incidents
from bot.slack.memory import ExpiringMap
from bot.slack.post import Poster
from bot.slots import Slots
from bot.store import Store, open_store

log = logging.getLogger("pgconn.slack")


@dataclass(frozen=True)
class Tuning:
    """Knobs with production defaults; tests shorten the progress delays."""

    # Reports built and posted at once; more wait their turn. Few on purpose: a diagnosis holds
    # the GIL for milliseconds at a time (libpq's SCRAM, building the report), and every busy
    # worker delays the acks of the requests arriving meanwhile (bench/bench_slack.py).
    workers: int = 2
    # Threads for jobs: most of a job's life is spent waiting on a server or on Slack, which
    # takes no slot (bot/slots.py), so a frozen cluster holds one of these, not a worker.
    job_threads: int = 32
    stuck_after_s: float = 60.0  # a job running longer is stuck: readiness says so
    probe_workers: int = 4  # clusters diagnosed at once by `/pgconn list`
    progress_after_s: float = 3.0  # a scan shorter than this shows no progress message
    progress_every_s: float = 3.0  # and a longer one updates it at most this often
    memory_ttl_s: float = 3600.0  # how long event ids and open pickers are remembered
    # A paste or command about a cluster reported less than this long ago links that report's
    # thread instead of posting a second one (`/pgconn <cluster> fresh` forces a new report).
    repeat_window_s: float = 300.0


@dataclass(frozen=True)
class PendingPaste:
    """A paste waiting for someone to pick its cluster."""

    found: tuple[Signal, ...]
    channel: str
    thread_ts: str
    pasted: Pasted | None = None


@dataclass
class Context:
    config: Config
    playbooks: PlaybookSet
    client: WebClient
    tuning: Tuning = field(default_factory=Tuning)

    def __post_init__(self) -> None:
        self.secrets = self.config.secrets()
        self.poster = Poster(self.client, self.secrets)
        self.slots = Slots(self.tuning.workers)
        self.jobs = ThreadPoolExecutor(
            max(self.tuning.job_threads, self.tuning.workers), thread_name_prefix="pgconn-job"
        )
        self.probes = ThreadPoolExecutor(
            self.tuning.probe_workers, thread_name_prefix="pgconn-probe"
        )
        self.seen_events: ExpiringMap[bool] = ExpiringMap(self.tuning.memory_ttl_s)
        self.pickers: ExpiringMap[PendingPaste] = ExpiringMap(self.tuning.memory_ttl_s)
        self._channel_names: ExpiringMap[str] = ExpiringMap(self.tuning.memory_ttl_s)
        self._by_name = any(
            c.startswith("#") for cl in self.config.clusters.values() for c in cl.channels
        )
        self._closers: list[Callable[[], None]] = []
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        # Shared by replicas through a PostgreSQL store; one process keeps them in memory.
        self.incidents = Incidents(self.store if self.config.state_dsn else None)
        # Alert threads are always in the store: `pgconn incident export` tells their story.
        self.alert_threads = AlertThreads(self.store)
        # One diagnostics connection kept per cluster, so the bot already holds its slot when
        # a server fills up; opened in the background, start-up is not held up.
        self.keepers = Keepers(secrets=self.secrets)
        self.keepers.start(self.config.clusters.values())
        self.on_close(self.keepers.close)

    def store(self) -> Store:
        """The process's state store, opened on first use (a bot that never needs one never
        touches it) and shared by approvals, warnings and event de-duplication."""
        with self._store_lock:
            if self._store is None:
                self._store = open_store(self.config.state_path, self.config.state_dsn)
                self.on_close(self._store.close)
            return self._store

    def store_healthy(self) -> bool:
        with self._store_lock:
            store = self._store
        return store is None or store.healthy()

    def workers_healthy(self) -> bool:
        """No job has been running past every deadline it could meet."""
        return self.slots.stuck(self.tuning.stuck_after_s) == 0

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer` when the context closes (listeners' own threads and stores)."""
        self._closers.append(closer)

    def submit(
        self,
        what: str,
        fn: Callable[..., None],
        *args: Any,
        tell: Callable[[Message], None] | None = None,
    ) -> Future[None]:
        """Run the work after the ack. An exception is logged (redacted) and, with `tell`, told
        to whoever asked; pasted messages nobody addressed to the bot are not told."""

        def run() -> None:
            try:
                with self.slots.held():
                    fn(*args)
            except Exception as exc:
                reason = self.log_failure(what, exc)
                if tell is not None:
                    tell(
                        notice(
                            f":warning: pgconn failed ({what}): {escape(reason)}. "
                            "The details are in its log."
                        )
                    )

        # The worker logs under the request id of the request that asked for the work.
        return self.jobs.submit(contextvars.copy_context().run, run)

    def log_failure(self, what: str, exc: BaseException) -> str:
        """Log an unexpected error with its traceback, redacted like everything else; the
        redacted one-line reason."""
        trace = "".join(traceback.format_exception(exc))
        log.error("%s failed:\n%s", what, redact_text(trace, self.secrets))
        return redact_text(f"{type(exc).__name__}: {exc}", self.secrets)

    def channel_keys(self, channel_id: str, channel_name: str | None = None) -> list[str]:
        """How the config may name this channel: its ID and, when any binding uses a name,
        `#name` (events carry only the ID; the name is looked up once and remembered)."""
        keys = [channel_id]
        if not self._by_name:
            return keys
        name = channel_name or self._channel_names.get(channel_id)
        if name is None:
            try:
                name = str(self.client.conversations_info(channel=channel_id)["channel"]["name"])
            except (SlackApiError, KeyError, TypeError) as exc:
                log.warning(
                    "cannot resolve the name of channel %s (%s); bindings by #name "
                    "will not match it",
                    channel_id,
                    exc,
                )
                return keys
            self._channel_names.put_new(channel_id, name)
        return [*keys, f"#{name}"]

    def clusters_here(self, keys: list[str]) -> list[str]:
        """Clusters bound to this channel."""
        return sorted({n for key in keys for n in self.config.clusters_for_channel(key)})

    def refuse_here(self, cluster: str, channel: str) -> str | None:
        """The one binding check every action makes (buttons, menus, approvals): why
        `cluster` may not be used from `channel`, or None. A cluster may be used where its
        `channels` allow, and in the channel pgconn posts its warnings to."""
        spec = self.config.clusters.get(cluster)
        if spec is None:
            return f"cluster {escape(cluster)} is not configured (any more)"
        alerts = spec.alert_channel or self.config.warnings.alert_channel
        if channel and channel == alerts:
            return None
        if not channel or not self.config.channel_may_use(cluster, self.channel_keys(channel)):
            return f"cluster {escape(cluster)} may not be used from this channel"
        return None

    def usable_here(self, keys: list[str]) -> list[str]:
        """Clusters this channel may use: its own, and those bound to no channel."""
        return [n for n in sorted(self.config.clusters) if self.config.channel_may_use(n, keys)]

    @staticmethod
    def action_channel(body: dict[str, Any]) -> str:
        """The channel an interaction came from, as Slack reports it."""
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        return str(channel or "")

    def drain(self, timeout_s: float) -> bool:
        """Let the work already accepted finish (graceful shutdown); False if it did not within
        `timeout_s`."""
        finisher = threading.Thread(
            target=self.jobs.shutdown, kwargs={"wait": True}, name="pgconn-drain", daemon=True
        )
        finisher.start()
        finisher.join(timeout_s)
        return not finisher.is_alive()

    def close(self) -> None:
        self.jobs.shutdown(wait=False, cancel_futures=True)
        self.probes.shutdown(wait=False, cancel_futures=True)
        for closer in self._closers:
            try:
                closer()
            except Exception as exc:
                self.log_failure("closing", exc)
