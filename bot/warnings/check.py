"""`pgconn check`: one round of probes from the shell. Nothing is posted or stored, and with no
history there is no hysteresis and no trend: each entity's level is its share against its
thresholds right now."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from bot.config import Config
from bot.warnings.fanout import probe_all
from bot.warnings.levels import classify, levels_for
from bot.warnings.model import ClusterResult, Evaluation, Probe, ProbeOutcome
from bot.warnings.probe import Prober
from bot.warnings.trend import NO_TREND


def evaluate(config: Config, outcome: ProbeOutcome) -> ClusterResult:
    """Every entity's level in one probe, from scratch."""
    if not isinstance(outcome, Probe):
        return ClusterResult(outcome.cluster, outcome)
    cluster = config.clusters[outcome.cluster]
    evaluations = []
    for usage in outcome.usages:
        levels = levels_for(config.warnings, cluster.warnings, usage.kind, usage.name)
        evaluations.append(Evaluation(usage, classify(usage.share, levels), levels, NO_TREND))
    return ClusterResult(outcome.cluster, outcome, tuple(evaluations))


def check(
    config: Config, names: Sequence[str] = (), *, clock: Callable[[], float] = time.time
) -> list[ClusterResult]:
    """Probe `names` (every configured cluster when empty), concurrently as the scheduler
    does; results in the order asked (or configured)."""
    chosen = [config.cluster(n) for n in names] if names else list(config.clusters.values())
    warn = config.warnings
    secrets = config.secrets()
    probers = [
        Prober(c, timeout_s=warn.probe_timeout_seconds, secrets=secrets, clock=clock)
        for c in chosen
    ]
    try:
        with ThreadPoolExecutor(
            max_workers=max(1, min(warn.concurrency, len(probers))),
            thread_name_prefix="pgconn-check",
        ) as pool:
            results = {
                o.cluster: evaluate(config, o)
                for o in probe_all(
                    probers, pool, limit_s=2.0 * warn.probe_timeout_seconds, secrets=secrets
                )
            }
    finally:
        for prober in probers:
            prober.close()
    return [results[c.name] for c in chosen if c.name in results]
