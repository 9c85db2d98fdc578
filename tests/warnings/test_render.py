"""Warning messages: what they say, Slack's limits, hostile names escaped."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.warnings import render
from bot.warnings.model import (
    ClusterResult,
    EntityKind,
    Evaluation,
    Holder,
    Level,
    Levels,
    Probe,
    ProbeFailure,
    ServerLimits,
    Usage,
)
from bot.warnings.trend import NO_TREND, Sample, trend

T0 = 1_800_000_000.0
HOSTILE = "<!channel> a&b <@U1> `x`"


def view(usage: Usage, level: Level = Level.WARNING, now: float | None = T0 + 840):
    samples = [Sample(T0 + i * 60, usage.current - 4 + i, usage.idle - 4 + i) for i in range(5)]
    return render.WarningView(
        cluster="prod",
        usage=usage,
        level=level,
        trend=trend(samples, usage.limit),
        since=T0,
        peak=usage.current,
        now=now,
    )


def app_user(current: int = 17) -> Usage:
    return Usage(
        EntityKind.ROLE,
        "app_user",
        current,
        20,
        idle=12,
        idle_in_transaction=2,
        holders=(Holder("checkout", "10.0.0.5", "idle", 12), Holder("", "local", None, 3)),
    )


def test_warning_says_who_how_much_trend_time_to_limit_holders_and_triage():
    notice = render.warning(view(app_user()))
    shown = notice.text + json.dumps(notice.blocks, ensure_ascii=False)
    assert "role *app_user* is at *17/20 (85%)*" in shown
    assert "Warning" in notice.text
    assert "rising, +1/min over the last 4 min" in shown
    assert "at this rate, app_user is full in ~3 min" in shown
    assert "14 min (since" in shown
    assert "12 × `checkout` from 10.0.0.5, idle" in shown
    assert "3 × _(no application_name)_ from local, state not visible" in shown
    assert "probable connection leak; most are `checkout` from 10.0.0.5" in shown
    assert "`/pgconn prod app_user`" in shown
    assert len(notice.blocks) <= 50
    for block in notice.blocks:
        if "text" in block:
            assert len(block["text"]["text"]) <= 3000


def test_fingerprint_ignores_the_clock_and_the_rate_decimals():
    a = render.fingerprint(view(app_user()))
    assert a == render.fingerprint(view(app_user(), now=T0 + 9999))
    slower = view(app_user())
    slower = render.WarningView(
        **{
            **{f: getattr(slower, f) for f in slower.__slots__},
            "trend": replace(slower.trend, per_minute=0.9),
        }
    )
    assert render.fingerprint(slower) == a
    assert render.fingerprint(view(app_user(18))) != a
    assert render.fingerprint(view(app_user(), Level.CRITICAL)) != a
    assert "Over the line for" not in json.dumps(render.warning(view(app_user(), now=None)).blocks)


def test_names_are_escaped_everywhere():
    usage = Usage(
        EntityKind.ROLE, HOSTILE, 19, 20, 19, 0, holders=(Holder(HOSTILE, "<x>", "idle", 19),)
    )
    for notice in (
        render.warning(view(usage, Level.CRITICAL)),
        render.escalated(view(usage)),
        render.reopened(view(usage)),
        render.recovered(
            render.RecoveryView("a<b", EntityKind.ROLE, HOSTILE, T0, T0 + 60, 20, 20, usage)
        ),
        render.unreachable("a<b", "refused <here> & there", T0),
    ):
        # A button's value is data handed back to pgconn, never displayed: it keeps the exact name.
        values = [e["value"] for b in notice.blocks for e in b.get("elements", []) if "value" in e]
        assert all(json.loads(v)["role"] == HOSTILE for v in values)
        displayed = [
            {**b, "elements": [{k: v for k, v in e.items() if k != "value"} for e in b["elements"]]}
            if b["type"] == "actions"
            else b
            for b in notice.blocks
        ]
        shown = notice.text + json.dumps(displayed, ensure_ascii=False)
        assert "<!channel>" not in shown
        assert "<@U1>" not in shown
        assert "<x>" not in shown
        assert "&lt;!channel&gt; a&amp;b" in shown or "a&lt;b" in shown


def test_triage_command_quotes_odd_role_names():
    usage = Usage(EntityKind.ROLE, "my role", 17, 20, 0, 0)
    assert render.triage_command("prod", usage) == "/pgconn prod 'my role'"
    db = Usage(EntityKind.DATABASE, "shop", 17, 20, 0, 0)
    assert render.triage_command("prod", db) == "/pgconn prod"


def test_server_full_and_recovered_wording():
    server = Usage(EntityKind.SERVER, "", 7, 7, 0, 0)
    notice = render.warning(view(server, Level.CRITICAL))
    assert (
        "the server is at *7/7 (100%)* of the slots ordinary roles may use"
        in notice.text + json.dumps(notice.blocks, ensure_ascii=False)
    )
    assert "the server is full now" in json.dumps(notice.blocks, ensure_ascii=False)
    rv = render.RecoveryView(
        "prod", EntityKind.SERVER, "", T0, T0 + 900, 7, 7, Usage(EntityKind.SERVER, "", 3, 7, 0, 0)
    )
    assert render.recovered(rv).text.startswith(":white_check_mark: Recovered: the server")
    assert "15 min" in render.resolved(rv).text


def test_durations_and_estimates():
    assert render.duration(45) == "45 s"
    assert render.duration(12 * 60 + 5) == "12 min"
    assert render.duration(2 * 3600 + 5 * 60) == "2 h 05 min"
    assert render.approx(30) == "under a minute"
    assert render.approx(12 * 60 + 20) == "~12 min"
    assert render.approx(37 * 60) == "~35 min"
    assert render.approx(5 * 3600) == "~5 h"
    assert render.approx(3 * 86400) == "more than a day"


def test_check_output_text_and_json():
    probe = Probe(
        "prod",
        T0,
        ServerLimits(100, 3, 0),
        (
            Usage(EntityKind.SERVER, "", 10, 97, 5, 0),
            Usage(
                EntityKind.ROLE,
                "app_user",
                17,
                20,
                12,
                0,
                (Holder("checkout", "10.0.0.5", "idle", 12),),
            ),
        ),
    )
    levels = Levels(0.8, 0.95, 0.1)
    ok = ClusterResult(
        "prod",
        probe,
        (
            Evaluation(probe.usages[0], Level.OK, levels, NO_TREND),
            Evaluation(probe.usages[1], Level.WARNING, levels, NO_TREND),
        ),
    )
    down = ClusterResult("staging", ProbeFailure("staging", T0, "connection refused"))
    text = render.check_text([ok, down])
    assert "role app_user" in text
    assert "17/20" in text
    assert "WARNING" in text
    assert "12×checkout@10.0.0.5/idle" in text
    assert "staging          UNREACHABLE: connection refused" in text
    data = render.check_dict([ok, down])
    prod, staging = data["clusters"]
    assert prod["level"] == "warning"
    assert prod["server"]["max_connections"] == 100
    assert prod["entities"][1]["holders"][0]["application"] == "checkout"
    assert staging == {
        "cluster": "staging",
        "reachable": False,
        "reason": "connection refused",
        "entities": [],
    }
