"""Terminal text: headline first, then findings with everything needed to act."""

from __future__ import annotations

import re

from bot.render import answer
from bot.render.text import render_text
from bot.triage import triage
from bot.triage.model import Report
from tests.factories import repo_playbooks, session, sessions, signal, snapshot

ANSI = re.compile(r"\033\[[0-9;]*m")


def leak_report() -> Report:
    snap = snapshot(
        sessions(17, age_s=1800)
        + sessions(3, state="active")
        + [session(state="idle in transaction", age_s=600)],
        role_limits={"app_user": 20},
        blind_spots=["2 session(s) of other roles are hidden from pgconn_mon."],
    )
    sig = signal(
        "role_limit",
        role="app_user",
        count=3,
        first_line=12,
        source="stderr",
        sqlstate="53300",
        excerpt='FATAL:  too many connections for role "app_user"',
    )
    return triage([sig], snap, cluster="prod", playbooks=repo_playbooks())


def test_headline_comes_first_and_everything_follows_in_order() -> None:
    report = leak_report()
    text = render_text(report)
    first = text.splitlines()[0]
    assert answer.plain_words(report.headline).startswith(first)
    assert "cluster prod" in text
    assert "PostgreSQL 16.2" in text
    positions = [text.index(answer.plain_words(f.title)) for f in report.findings]
    assert positions == sorted(positions)
    for f in report.findings:
        for line in f.evidence:
            assert " ".join(answer.plain_words(line).split()) in " ".join(text.split())
        assert f.playbook is not None
        for s in f.playbook.sql:
            for line in s.statement.splitlines():
                assert line in text  # SQL is shown as is, not wrapped
    assert "DESTRUCTIVE: " in text
    assert text.index("Recognised in the paste") < text.index("Notes")
    line = 'A role out of connections (role "app_user"), 3 times — first at line 12, stderr'
    assert line + ", SQLSTATE 53300" in text
    assert "2 sessions of other roles are hidden from pgconn_mon." in text
    assert "role_limit" not in text and "(s)" not in text


def test_the_fixes_come_first_named_with_their_statement() -> None:
    report = leak_report()
    out = render_text(report)
    text = " ".join(out.split())
    fixes = answer.fixes(report)
    assert fixes
    for fix in fixes:
        assert fix.label in text and " ".join(fix.matches.split()) in text
    # The answer first: "Do now" before the first finding, Prevent once, after the findings.
    assert out.index("Do now") < out.index("1. CRITICAL")
    assert out.count("Prevent") == 1 and out.index("Prevent") > out.index("1. CRITICAL")


def test_no_colour_unless_asked() -> None:
    report = leak_report()
    assert not ANSI.search(render_text(report))
    coloured = render_text(report, color=True)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == render_text(report)


def test_prose_is_wrapped_but_sql_is_not() -> None:
    report = leak_report()
    sql_lines = {
        line.strip()
        for f in report.findings
        if f.playbook
        for s in f.playbook.sql
        for line in s.statement.splitlines()
    }
    for line in render_text(report, width=72).splitlines():
        if line.strip() not in sql_lines and not line.lstrip().startswith("--"):
            assert len(line) <= 72 or " " not in line.strip(), line


def test_without_live_data_shows_withheld_statements_and_notes() -> None:
    report = triage(
        [signal("database_limit", database="shop")], None, cluster=None, playbooks=repo_playbooks()
    )
    text = render_text(report)
    assert "no live data" in text
    (f,) = report.findings
    assert f.playbook is not None
    assert f.playbook.withheld
    for w in answer.withheld(f.playbook.withheld):
        assert " ".join(w.split()) in " ".join(text.split())
    assert not re.search(r"<[a-z][^<>]*>", text), "a template placeholder reached the report"


def test_report_without_findings() -> None:
    report = triage(
        [], snapshot(sessions(3, state="active")), cluster="prod", playbooks=repo_playbooks()
    )
    text = render_text(report)
    assert text.splitlines()[0] == report.headline
    assert "1." not in text
