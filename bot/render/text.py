"""A Report as terminal text for an on-call engineer: the headline first, then each finding
with its evidence, what to do now, what to change, the SQL, and the fixes that need approval."""

from __future__ import annotations

import textwrap

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
    w.para(report.headline, style=_BOLD)
    w.para(_context_line(report), style=_DIM)
    for i, finding in enumerate(report.findings, 1):
        w.raw()
        _finding(w, i, finding)
    if report.signals:
        w.raw()
        w.raw(w.paint("Recognised in the paste", _BOLD))
        for s in report.signals:
            w.para(_signal_line(s), 2, "- ")
    if report.notes:
        w.raw()
        w.raw(w.paint("Notes", _BOLD))
        for note in report.notes:
            w.para(note, 2, "- ")
    return "\n".join(w.lines) + "\n"


def _context_line(report: Report) -> str:
    s = report.snapshot
    cluster = f"cluster {report.cluster}" if report.cluster else "no cluster named"
    if s is None:
        return f"{cluster} · no live data"
    if s.pasted:
        return (
            f"no live data · from the pasted pg_stat_activity ({s.pasted}) as of "
            f"{s.taken_at:%Y-%m-%d %H:%M:%S %Z} · server slots: {s.server_headroom().figures()}"
        )
    return (
        f"{cluster} · PostgreSQL {s.server_version} · snapshot at "
        f"{s.taken_at:%Y-%m-%d %H:%M:%S %Z} by {s.monitoring_role} · server slots: "
        f"{s.server_headroom().figures()}"
    )


def _finding(w: _Writer, number: int, f: Finding) -> None:
    first = w.para(f"{number}. {f.severity.name}  {f.title}")
    if w.color:
        w.lines[-len(first)] = first[0].replace(
            f.severity.name, w.paint(f.severity.name, _COLORS[f.severity]), 1
        )
    for line in f.evidence:
        w.para(line, 3, "- ")
    p = f.playbook
    if p is not None:
        w.para(f"Playbook: {p.title} [{p.playbook}]", 3)
        if p.now:
            w.raw(w.paint("   Now", _BOLD))
            for i, step in enumerate(p.now, 1):
                w.para(step, 3, f"{i}. ")
        if p.prevent:
            w.raw(w.paint("   Prevent", _BOLD))
            for step in p.prevent:
                w.para(step, 3, "- ")
        if p.sql:
            w.raw(w.paint("   SQL", _BOLD))
            for s in p.sql:
                mark = w.paint("DESTRUCTIVE: ", _RED) if s.destructive else ""
                w.raw(f"     -- {mark}{s.purpose}")
                for line in s.statement.splitlines():
                    w.raw(f"     {line}".rstrip())
        for withheld in p.withheld:
            w.para(f"Not shown without the value it needs: {withheld}", 3, "- ")
    if f.actions:
        w.raw(w.paint("   Proposed actions (an approver must confirm)", _BOLD))
        for a in f.actions:
            w.para(f"{a.title}: {a.summary}", 3, "- ")


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
    when = f"; {s.timeline.summary()}" if s.timeline else ""
    return (
        f"{s.kind.value}"
        + (f" ({entity})" if entity else "")
        + f" ×{s.count} — {where}{code}{when}"
    )
