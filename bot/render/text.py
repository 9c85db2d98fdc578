"""A Report as terminal text for an on-call engineer, in the order of the Slack answer: the
headline, then what to do now (the fixes, each with the statement it stands for), then each
finding with its evidence, steps and queries, then Prevent once for the whole report."""

from __future__ import annotations

import textwrap

from bot.render import answer
from bot.signals.model import Signal
from bot.triage.model import Finding, Report, Severity

_RESET = "\033[0m"
_BOLD = "\033[1m"
_DIM = "\033[2m"
_COLORS = {
    Severity.CRITICAL: "\033[1;31m",
    Severity.WARNING: "\033[1;33m",
    Severity.INFO: "\033[36m",
}
_RED = "\033[31m"


class _Writer:
    def __init__(self, color: bool, width: int) -> None:
        self.color = color
        self.width = width
        self.lines: list[str] = []

    def paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def para(self, text: str, indent: int = 0, bullet: str = "", style: str = "") -> list[str]:
        """Wrap, then paint: escape codes must not count towards the width."""
        lead = " " * indent
        lines = textwrap.wrap(
            text,
            width=self.width,
            initial_indent=lead + bullet,
            subsequent_indent=lead + " " * len(bullet),
            break_long_words=False,
            break_on_hyphens=False,
        ) or [lead + bullet]
        if style:
            lines = [self.paint(line, style) for line in lines]
        self.lines.extend(lines)
        return lines

    def raw(self, text: str = "") -> None:
        self.lines.append(text)


def render_text(report: Report, *, color: bool = False, width: int = 100) -> str:
    w = _Writer(color, width)
    w.para(answer.plain_words(report.headline), style=_BOLD)
    w.para(_context_line(report), style=_DIM)
    _do_now(w, report)
    for i, finding in enumerate(report.findings, 1):
        w.raw()
        _finding(w, i, finding)
    advice = answer.prevent(report)
    if advice:
        w.raw()
        w.raw(w.paint("Prevent", _BOLD))
        for step in advice:
            w.para(step, 2, "- ")
    if report.signals:
        w.raw()
        w.raw(w.paint("Recognised in the paste", _BOLD))
        for s in report.signals:
            w.para(_signal_line(s), 2, "- ")
    if report.notes:
        w.raw()
        w.raw(w.paint("Notes", _BOLD))
        for note in report.notes:
            w.para(answer.plain_words(note), 2, "- ")
    return "\n".join(w.lines) + "\n"


def _context_line(report: Report) -> str:
    s = report.snapshot
    cluster = f"cluster {report.cluster}" if report.cluster else "no cluster named"
    if s is None:
        return f"{cluster} · no live data"
    return (
        f"{cluster} · PostgreSQL {s.server_version} · snapshot at "
        f"{s.taken_at:%Y-%m-%d %H:%M:%S %Z} by {s.monitoring_role} · server slots: "
        f"{s.server_headroom().figures()}"
    )


def _finding(w: _Writer, number: int, f: Finding) -> None:
    first = w.para(f"{number}. {f.severity.name}  {answer.plain_words(f.title)}")
    if w.color:
        w.lines[-len(first)] = first[0].replace(
            f.severity.name, w.paint(f.severity.name, _COLORS[f.severity]), 1
        )
    for line in f.evidence:
        w.para(answer.plain_words(line), 3, "- ")
    p = f.playbook
    if p is not None:
        w.para(f"Playbook: {p.title}", 3)
        if p.now:
            w.raw(w.paint("   Now", _BOLD))
            for i, step in enumerate(p.now, 1):
                w.para(answer.plain_words(step), 3, f"{i}. ")
        if p.sql:
            w.raw(w.paint("   SQL", _BOLD))
            for s in p.sql:
                mark = w.paint("DESTRUCTIVE: ", _RED) if s.destructive else ""
                w.raw(f"     -- {mark}{answer.plain_words(s.purpose)}")
                for line in s.statement.splitlines():
                    w.raw(f"     {line}".rstrip())
        for withheld in answer.withheld(p.withheld):
            w.para(f"Not shown until pgconn has the values: {withheld}", 3, "- ")


def _do_now(w: _Writer, report: Report) -> None:
    """The fixes first: each named for what it does, what it matches and its statement."""
    found = answer.fixes(report)
    if not found:
        return
    w.raw()
    how = "an approver must confirm in Slack" if report.cluster else "they need a live cluster"
    w.raw(w.paint("Do now", _BOLD) + w.paint(f" ({how})", _DIM))
    for i, fix in enumerate(found, 1):
        w.para(fix.label, 2, f"{i}. ")
        w.para(fix.matches, 5)
        for line in (fix.statement or "").splitlines():
            w.raw(f"     {line}".rstrip())


def _signal_line(s: Signal) -> str:
    entity = ", ".join(
        part
        for part in (
            f'role "{s.role}"' if s.role is not None else "",
            f'database "{s.database}"' if s.database is not None else "",
            s.detail or "",
        )
        if part
    )
    where = f"first at line {s.first_line}, {s.source}"
    code = f", SQLSTATE {s.sqlstate}" if s.sqlstate else ""
    what = answer.kind_words(s.kind)
    what = what[:1].upper() + what[1:] + (f" ({entity})" if entity else "")
    times = "once" if s.count == 1 else f"{s.count} times"
    return f"{what}, {times} — {where}{code}"
