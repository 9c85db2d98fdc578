"""A signal's timeline (first and last seen, count per minute, peak) from a real server log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot import signals, throwaway
from bot.cli import main
from bot.signals.model import Signal, SignalKind
from tests import pg

MINUTE = "%Y-%m-%d %H:%M"
FORMS = [("", "stderr"), (".csv", "csvlog"), (".json", "jsonlog")]


def _set_log_timezone(cluster: throwaway.ThrowawayCluster, zone: str) -> None:
    with pg.admin(cluster) as conn:
        conn.execute(f"ALTER SYSTEM SET log_timezone = '{zone}'")
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # new backends see the reload a moment later
        with psycopg.connect(cluster.dsn()) as conn:
            shown = conn.execute("SHOW log_timezone").fetchone()
        if shown and shown[0] == zone:
            return
        time.sleep(0.05)
    pytest.fail(f"log_timezone did not become {zone}")


@pytest.fixture
def shifted(cluster: throwaway.ThrowawayCluster) -> Iterator[throwaway.ThrowawayCluster]:
    """The cluster, its log clock put back to UTC afterwards."""
    yield cluster
    _set_log_timezone(cluster, "UTC")


def _signal(path: Path, role: str, count: int) -> Signal:
    deadline = time.monotonic() + 10  # the logging collector writes asynchronously
    while time.monotonic() < deadline:
        if path.exists():
            for s in signals.scan_file(path):
                if s.kind is SignalKind.ROLE_LIMIT and s.role == role and s.count >= count:
                    return s
        time.sleep(0.1)
    pytest.fail(f"{path.name}: {count} refusals of {role} not logged")


def test_timeline_counts_per_minute_and_finds_the_peak(
    shifted: throwaway.ThrowawayCluster, holder: pg.Holder, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = shifted
    role = pg.unique("timed")
    password = pg.create_role(cluster, role, limit=1)
    holder.open(1, role, password)
    # Two refusals logged in UTC, then three an hour later by the log's clock (GMT+1): the
    # log's own timestamps put them in two minutes an hour apart.
    _set_log_timezone(cluster, "UTC")
    for _ in range(2):
        holder.refused(role, password)
    _set_log_timezone(cluster, "Etc/GMT-1")
    for _ in range(3):
        holder.refused(role, password)

    logs = cluster.data_dir / "log"
    for suffix, source in FORMS:
        s = _signal(logs / f"postgresql{suffix}", role, 5)
        assert s.source == source
        t = s.timeline
        assert t is not None, source
        (early, n_early), (late, n_late) = t.per_minute
        assert (n_early, n_late) == (2, 3), source
        gap = datetime.strptime(late, MINUTE) - datetime.strptime(early, MINUTE)
        assert timedelta(minutes=60) <= gap <= timedelta(minutes=61), source
        assert t.peak == (late, 3)
        assert t.first_seen.startswith(early) and t.last_seen.startswith(late)
        assert t.untimed == 0

    assert main(["explain", "--json", str(logs / "postgresql.json")]) == 0
    [mine] = [x for x in json.loads(capsys.readouterr().out)["signals"] if x["role"] == role]
    assert mine["timeline"]["peak_count"] == 3
    assert [m["count"] for m in mine["timeline"]["per_minute"]] == [2, 3]

    assert main(["explain", str(logs / "postgresql")]) == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert f"peak 3/min at {late}" in text


def test_a_paste_without_timestamps_has_no_timeline(holder: pg.Holder) -> None:
    role = pg.unique("untimed")
    password = pg.create_role(holder.cluster, role, limit=1)
    holder.open(1, role, password)
    (s,) = signals.scan(holder.refused(role, password))
    assert s.timeline is None
