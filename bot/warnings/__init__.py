"""Warnings before a limit is reached: a scheduler probes every cluster, compares each role,
database and the server with its thresholds, and posts one message per incident, edited in
place, with a reply in its thread when it recovers. See docs/warnings.md.

    probe.py     one cluster's probe (bot/sql/probe.sql) on a kept connection     I/O
    fanout.py    probes run concurrently, bounded, with a watchdog                I/O
    levels.py    thresholds per cluster / role / database, hysteresis             pure
    trend.py     slope, time to limit, leak                                       pure
    rules.py     what to post, edit or reply this round                           pure
    record.py    alert records as the store keeps them
    render.py    Notices (text + Block Kit) and `pgconn check` output             pure
    watcher.py   the round: lease, probes, rules, notifier, store
    scheduler.py the APScheduler job
    check.py     `pgconn check`
"""

from __future__ import annotations

from bot.warnings.check import check, evaluate
from bot.warnings.model import (
    ClusterResult,
    EntityKind,
    Evaluation,
    Holder,
    Level,
    Levels,
    Probe,
    ProbeFailure,
    Usage,
)
from bot.warnings.scheduler import WarningsScheduler
from bot.warnings.watcher import RoundReport, Taken, Watcher

__all__ = [
    "ClusterResult",
    "EntityKind",
    "Evaluation",
    "Holder",
    "Level",
    "Levels",
    "Probe",
    "ProbeFailure",
    "RoundReport",
    "Taken",
    "Usage",
    "WarningsScheduler",
    "Watcher",
    "check",
    "evaluate",
]
