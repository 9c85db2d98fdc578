"""A pasted pg_stat_activity (psql, CSV, JSON) is triaged like the live server it came from."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.pasted import read
from bot.playbooks import load_playbooks
from bot.service import analyse
from bot.triage import DEFAULT_THRESHOLDS, triage
from bot.triage.model import Report
from tests import pg
from tests.pasted.psql import activity, psql

# Fresh sessions count as stuck, so both diagnoses name the same causes.
EAGER = replace(DEFAULT_THRESHOLDS, idle_min_age_s=0, idle_tx_min_age_s=0, idle_min_sessions=1)
FORMS = ("aligned", "expanded", "unaligned", "csv", "json")


def _by_state(report: Report, role: str) -> Counter[str | None]:
    assert report.snapshot is not None
    counts: Counter[str | None] = Counter()
    for g in report.snapshot.groups:
        if g.role == role:
            counts[g.state] += g.count
    return counts


def _role_findings(report: Report, role: str) -> set[tuple[str, int | None, int | None]]:
    return {(f.code, f.current, f.limit) for f in report.findings if f.role == role}


@pytest.mark.parametrize("form", FORMS)
def test_pasted_activity_diagnosis_matches_live(
    cluster: throwaway.ThrowawayCluster, holder: pg.Holder, form: str
) -> None:
    role = pg.unique("paste_app")
    pw = pg.create_role(cluster, role, limit=3)
    holder.open(2, role, pw, app="checkout")
    holder.open(1, role, pw, app="checkout", idle_in_transaction=True)
    error = holder.refused(role, pw)
    table = activity(cluster, form)
    shown = psql(cluster, sql="SHOW max_connections")
    text = f"{error}\n\n{table}\n{shown}"
    found = signals.scan(text)
    playbooks = load_playbooks()

    pasted = read(text, found)
    assert pasted is not None and pasted.snapshot is not None
    from_paste = triage(
        found, pasted.snapshot, cluster=None, playbooks=playbooks, thresholds=EAGER,
        notes=pasted.notes,
    )  # fmt: skip
    live = analyse(found, ClusterConfig("c", cluster.dsn()), playbooks, thresholds=EAGER)

    assert (
        _by_state(from_paste, role)
        == _by_state(live, role)
        == Counter({"idle": 2, "idle in transaction": 1})
    )
    assert _role_findings(from_paste, role) == _role_findings(live, role)
    assert ("role_limit", 3, 3) in _role_findings(from_paste, role)
    # Honest about where it came from: not live, no action on pasted pids.
    assert not from_paste.live
    assert all(not f.actions for f in from_paste.findings)
    assert any(a.kind for f in live.findings for a in f.actions)
    assert any("From the paste" in n and f"{form}" in n for n in from_paste.notes)
    assert any("max_connections" in n and "from the paste" in n for n in from_paste.notes)
    assert pasted.snapshot.settings.max_connections == live.snapshot.settings.max_connections  # type: ignore[union-attr]
