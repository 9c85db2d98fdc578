"""Block Kit rendering: Slack's limits on huge reports, hostile names, the buttons' payload."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.render import blocks as bk
from bot.triage.model import (
    ActionKind,
    Finding,
    PlaybookSection,
    ProposedAction,
    Report,
    Severity,
    SuggestedSql,
)
from tests import factories

HOSTILE = ['a"b', "x; DROP ROLE admin; --", "<!channel> & <@U0001>", "`", "ünï 😀", "r" * 63]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def texts(messages: list[bk.Message]) -> list[str]:
    """Every shown string: mrkdwn and plain text objects, rich text elements."""
    out = []
    for m in messages:
        for node in walk(m.blocks):
            if node.get("type") in ("mrkdwn", "plain_text", "text") and "text" in node:
                out.append(node["text"])
    return out


def buttons(messages: list[bk.Message]) -> list[dict[str, Any]]:
    return [n for m in messages for n in walk(m.blocks) if n.get("type") == "button"]


def assert_within_limits(messages: list[bk.Message]) -> None:
    for m in messages:
        assert 0 < len(m.blocks) <= bk.MAX_BLOCKS
        assert len(m.text) <= bk.MAX_SECTION
        for block in m.blocks:
            if block["type"] == "section" and "text" in block:
                assert 0 < len(block["text"]["text"]) <= bk.MAX_SECTION
                assert block["text"]["verbatim"] is True
            for f in block.get("fields", []):
                assert 0 < len(f["text"]) <= bk.MAX_FIELD and f["verbatim"] is True
            if block["type"] == "rich_text":
                for node in walk(block):
                    if node.get("type") == "text":
                        assert len(node["text"]) <= bk.MAX_SECTION
        ids = [b["action_id"] for b in buttons([m])]
        assert len(ids) == len(set(ids)), "action_ids must be unique within a message"
    for b in buttons(messages):
        assert len(b["text"]["text"]) <= bk.MAX_BUTTON_TEXT
        assert len(b["value"]) <= bk.MAX_BUTTON_VALUE
        json.loads(b["value"])


def huge_report(n_findings: int = 60) -> Report:
    findings = []
    for i in range(n_findings):
        role = f"role_{i}"
        findings.append(
            Finding(
                code="role_limit",
                severity=Severity.CRITICAL if i % 2 else Severity.WARNING,
                title=f"Role {role} is at its CONNECTION LIMIT",
                evidence=tuple(f"evidence {i}.{j}: " + "x" * 200 for j in range(20)),
                playbook=PlaybookSection(
                    playbook="role-limit",
                    title=f"Playbook for {role}",
                    now=tuple(f"step {i}.{j} " + "n" * 150 for j in range(10)),
                    prevent=tuple(f"prevent {i}.{j}" for j in range(5)),
                    sql=(
                        SuggestedSql("Find the sessions", "SELECT pid FROM pg_stat_activity;"),
                        SuggestedSql(
                            "Terminate every idle session",
                            "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY["  # noqa: S608
                            + ",\n".join(str(10_000 + k) for k in range(2000))
                            + "]) AS pid;",
                            destructive=True,
                        ),
                    ),
                    withheld=("Raise the limit (needs a free slot)",),
                ),
                actions=(
                    ProposedAction(
                        ActionKind.TERMINATE,
                        f"Terminate {role}'s idle sessions",
                        "Frees slots.",
                        {
                            "role": role,
                            "state": "idle",
                            "min_age_s": 600,
                            "pids": list(range(100_000, 100_500)),
                        },
                    ),
                    ProposedAction(
                        ActionKind.SET_ROLE_CONN_LIMIT,
                        f"Raise {role}'s CONNECTION LIMIT",
                        "Frees none.",
                        {"role": role, "limit": 30, "current_limit": 20},
                    ),
                ),
                role=role,
                current=20,
                limit=20,
            )
        )
    return Report(
        cluster="prod",
        headline="Role role_1 is at its CONNECTION LIMIT (20 of 20)",
        findings=tuple(findings),
        signals=tuple(
            factories.signal("role_limit", role=f"role_{i}", count=3, excerpt="FATAL: ...")
            for i in range(30)
        ),
        snapshot=factories.snapshot(
            factories.sessions(20, role="role_1"), role_limits={"role_1": 20}
        ),
        notes=tuple(f"note {i}" for i in range(10)),
    )


def test_a_huge_report_is_split_within_limits_and_nothing_is_lost() -> None:
    report = huge_report()
    summary, parts = bk.report_messages(report)
    assert len(parts) > 10
    assert_within_limits([summary, *parts])
    shown = "\n".join(texts(parts))
    finding = report.findings[-1]
    for line in (*finding.evidence, *finding.playbook.now, *report.notes):  # type: ignore[union-attr]
        assert bk.escape(line) in shown
    # With a live cluster the fix's button stands for the destructive statement; without one
    # the statement itself is the way to act.
    bare = bk.thread_messages(dataclasses.replace(report, cluster=None))
    pids = "".join(t for t in texts(bare) if "unnest" in t or "_(continued)_" in t)
    for k in (0, 999, 1999):  # the 2000-pid statement is split, not cut
        assert str(10_000 + k) in pids
    assert "_(continued)_" in "\n".join(texts(bare))
    for i, part in enumerate(parts, 1):
        assert part.blocks[0]["type"] != "divider"
        assert part.blocks[-2]["type"] != "divider"
        marker = part.blocks[-1]
        assert marker["type"] == "context"
        assert f"part {i} of {len(parts)}" in marker["elements"][0]["text"]


def test_a_small_report_is_one_thread_message_without_part_markers() -> None:
    finding = Finding("role_limit", Severity.CRITICAL, "Role app is full", ("20 of 20",))
    [part] = bk.thread_messages(Report("prod", "app is full", (finding,)))
    assert part.blocks[-1]["type"] == "section"
    assert "part" not in part.text
    small = Report("prod", "all fine", ())
    assert bk.thread_messages(small) == []
    assert "all fine" in bk.summary_message(small).blocks[0]["text"]["text"]


def test_summary_says_what_is_full_how_full_and_points_to_the_thread() -> None:
    summary = bk.summary_message(huge_report(2))
    text = "\n".join(texts([summary]))
    assert "*prod*" in text
    assert "CONNECTION LIMIT (20 of 20)" in text
    assert "role role_0 · 20 / 20" in text  # what is full, in its field
    assert "in the thread" in text
    assert len(summary.blocks) <= 4
    # The primary fix, named for what it does: the one that frees slots.
    [button] = buttons([summary])
    assert button["text"]["text"] == "Terminate 500 idle sessions of role_0"
    assert button["style"] == "primary"


def test_buttons_carry_cluster_kind_and_params() -> None:
    report = huge_report(2)
    found = buttons(bk.thread_messages(report))
    # Fixes that free slots first, then in finding order.
    assert [b["action_id"] for b in found] == [
        f"{bk.ACTION_PREFIX}{fi}.{ai}" for ai in range(2) for fi in range(2)
    ]
    assert [b["text"]["text"] for b in found] == [
        "Terminate 500 idle sessions of role_0",
        "Terminate 500 idle sessions of role_1",
        "Raise role_0's limit 20 → 30",
        "Raise role_1's limit 20 → 30",
    ]
    raise_limit = json.loads(found[2]["value"])
    assert raise_limit == {
        "v": 1,
        "cluster": "prod",
        "finding": "role_limit",
        "kind": "set_role_conn_limit",
        "params": {"role": "role_0", "limit": 30, "current_limit": 20},
    }
    terminate = json.loads(found[0]["value"])
    # 500 pids do not fit in 2000 characters: they are dropped, the criteria stay.
    assert terminate["params"] == {"role": "role_0", "state": "idle", "min_age_s": 600}
    assert terminate["pids_omitted"] == 500


def test_small_pid_lists_stay_in_the_button_value() -> None:
    finding = huge_report(1).findings[0]
    action = ProposedAction(
        ActionKind.TERMINATE,
        "t",
        "s",
        {"role": "r", "state": "idle", "min_age_s": 60, "pids": [1, 2, 3]},
    )
    assert json.loads(bk.action_value("prod", finding, action))["params"]["pids"] == [1, 2, 3]


def test_no_buttons_without_a_cluster() -> None:
    report = Report(None, "h", huge_report(1).findings)
    parts = bk.thread_messages(report)
    assert buttons(parts) == []
    assert any("need live data" in t for t in texts(parts))


def test_hostile_names_are_escaped_everywhere() -> None:
    for name in HOSTILE:
        finding = Finding(
            code="role_limit",
            severity=Severity.CRITICAL,
            title=f'Role "{name}" is at its limit',
            evidence=(f"{name} holds 5 sessions",),
            playbook=PlaybookSection(
                "p",
                f"for {name}",
                (f"look at {name}",),
                (),
                (SuggestedSql(f"about {name}", f'ALTER ROLE "{name}";'),),
            ),
            actions=(
                ProposedAction(
                    ActionKind.SET_ROLE_CONN_LIMIT,
                    f"raise {name}",
                    name,
                    {"role": name, "limit": 5, "current_limit": 4},
                ),
            ),
            role=name,
        )
        report = Report(
            name,
            f"{name} full",
            (finding,),
            signals=(factories.signal("role_limit", role=name, excerpt=name),),
        )
        summary, parts = bk.report_messages(report)
        assert_within_limits([summary, *parts])
        for text in texts([summary, *parts]):
            if "```" in name:
                continue
            assert "<!channel>" not in text
            assert "<@U0001>" not in text
        value = json.loads(buttons(parts)[0]["value"])
        assert value["params"]["role"] == name
        assert value["cluster"] == name
    escaped = bk.thread_messages(
        Report("c", "h", (Finding("x", Severity.INFO, "<!channel> & <@U0001>", ()),))
    )
    assert "&lt;!channel&gt; &amp; &lt;@U0001&gt;" in texts(escaped)[0]


def test_a_code_fence_in_a_name_uses_preformatted_rich_text() -> None:
    sql = SuggestedSql("purpose", 'ALTER ROLE "a```b" CONNECTION LIMIT 5;')
    finding = Finding(
        "x", Severity.INFO, "t", (), playbook=PlaybookSection("p", "t", (), (), (sql,))
    )
    parts = bk.thread_messages(Report("c", "h", (finding,)))
    rich = [b for b in parts[0].blocks if b["type"] == "rich_text"]
    assert rich
    assert rich[0]["elements"][0]["elements"][0]["text"] == sql.statement


def test_secrets_are_redacted_before_escaping() -> None:
    secret = "pa&ss<w>rd-1"
    report = Report("prod", f"could not connect: password={secret}", (), notes=(secret,))
    summary, parts = bk.report_messages(report, secrets=[secret])
    everything = json.dumps([summary.blocks, summary.text] + [p.blocks for p in parts])
    assert secret not in everything
    assert bk.escape(secret) not in everything


def test_picker_lists_clusters_and_a_text_only_choice() -> None:
    found = [factories.signal("role_limit", role="<!here>")]
    names = [f"c{i}" for i in range(150)]
    msg = bk.cluster_picker(found, names, "tok", [])
    block = msg.blocks[0]
    assert block["block_id"] == bk.PICK_BLOCK_PREFIX + "tok"
    select = block["accessory"]
    assert select["action_id"] == bk.PICK_ACTION
    assert len(select["options"]) == bk.MAX_OPTIONS
    assert select["options"][-1]["value"] == bk.NO_CLUSTER
    assert "51 more clusters not in the list" in block["text"]["text"]
    assert "&lt;!here&gt;" in block["text"]["text"]


def test_cluster_list_least_headroom_first() -> None:
    busy = Report(
        "busy", "busy is nearly full", (), snapshot=factories.snapshot(factories.sessions(90))
    )
    calm = Report("calm", "calm", (), snapshot=factories.snapshot(factories.sessions(3)))
    down = bk.ClusterRow("down", None, "diagnosis failed: boom")
    [msg] = bk.cluster_list(
        [bk.ClusterRow("calm", calm), down, bk.ClusterRow("busy", busy)], hidden=2
    )
    text = texts([msg])[0]
    assert text.index("busy") < text.index("calm") < text.index("down")
    assert "90 of 96 used (94%), 6 free" in text  # 97 ordinary slots, one held by pgconn
    assert "2 more clusters bound to other channels" in text


@given(st.text(alphabet=st.sampled_from("ab&<>\n "), max_size=9000))
def test_split_text_keeps_every_character_and_every_entity(raw: str) -> None:
    text = bk.escape(raw)
    pieces = bk.split_text(text, 300)
    assert all(0 < len(p) <= 300 for p in pieces)
    for p in pieces:  # no entity cut in half
        assert bk.unescape(p).count("&") == p.count("&amp;")
    kept = "".join(pieces).replace("\n", "")
    assert kept.strip() == text.replace("\n", "").strip()
