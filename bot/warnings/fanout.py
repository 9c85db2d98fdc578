"""Probe many clusters at once: a bounded thread pool (psycopg is synchronous) and a watchdog.

Outcomes come back as they complete, so a slow cluster never holds up what the others have to
say. Each probe is bounded by its own timeouts (connect_timeout, statement_timeout); one that
overruns them anyway (a server that stopped answering mid-query) is aborted by the watchdog,
and after a short grace it is given up on: its outcome is a failure, and its thread is left to
finish on its own while the prober refuses new probes until it does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait

from bot.redact import redact_text
from bot.warnings.model import ProbeFailure, ProbeOutcome
from bot.warnings.probe import Prober

log = logging.getLogger(__name__)

TICK_S = 0.2  # how often the watchdog looks at running probes
GRACE_S = 1.0  # after an abort, how long before the probe is given up on


def probe_all(
    probers: Sequence[Prober],
    pool: Executor,
    *,
    limit_s: float,
    stop: threading.Event | None = None,
    secrets: Sequence[str] = (),
) -> Generator[ProbeOutcome, None, None]:
    """Every prober's outcome, in completion order. `limit_s` bounds one probe, counted from
    when it starts (not from when it was queued behind others)."""
    futures: dict[Future[ProbeOutcome], Prober] = {pool.submit(p.probe): p for p in probers}
    pending = set(futures)
    aborted: dict[Future[ProbeOutcome], float] = {}
    try:
        while pending:
            done, pending = wait(pending, timeout=TICK_S, return_when=FIRST_COMPLETED)
            for future in done:
                yield _outcome(future, futures[future], secrets)
            if stop is not None and stop.is_set():
                return
            now = time.monotonic()
            for future in list(pending):
                prober = futures[future]
                if future in aborted:
                    if now - aborted[future] > GRACE_S:
                        pending.discard(future)
                        log.warning("%s: probe abandoned after %.0f s", prober.name, limit_s)
                        yield ProbeFailure(
                            cluster=prober.name,
                            at=prober.now(),
                            reason=f"no answer within {limit_s:.0f} s; the probe was abandoned",
                        )
                elif prober.overdue(now, limit_s):
                    prober.abort()
                    aborted[future] = now
    finally:
        for future in pending:
            future.cancel()  # still queued: never started; running ones finish on their own


def _outcome(future: Future[ProbeOutcome], prober: Prober, secrets: Sequence[str]) -> ProbeOutcome:
    try:
        return future.result()
    except Exception as exc:  # a bug must cost one cluster one round, not the scheduler
        reason = redact_text(f"{type(exc).__name__}: {exc}", secrets)
        log.error("%s: probe failed unexpectedly: %s", prober.name, reason)
        return ProbeFailure(
            cluster=prober.name, at=prober.now(), reason=f"internal error in the probe ({reason})"
        )
