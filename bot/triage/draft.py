"""A finding while triage is still assembling it: evidence and actions can still be added."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.triage.codes import FindingCode
from bot.triage.facts import CodeFacts, ServerFacts
from bot.triage.model import ProposedAction, Severity
from bot.triage.sessions import Stuck

# Types only: explaining a paste does not load the live side's models.
if TYPE_CHECKING:
    from bot.headroom import Headroom


@dataclass(slots=True)
class Draft:
    """`pressure` is how close the finding's limit is (1.0 = full) and ranks equal severities.
    `cause` is the short phrase a headline quotes when this draft explains a fuller limit;
    `headline` the opening of the headline when this draft comes first (default: title)."""

    code: FindingCode
    severity: Severity
    title: str
    server: ServerFacts
    extra: CodeFacts | None = None
    evidence: list[str] = field(default_factory=list)
    # Settings to adopt, fitted to what was found: shown under Prevent, ahead of the playbook's.
    advice: list[str] = field(default_factory=list)
    actions: list[ProposedAction] = field(default_factory=list)
    role: str | None = None
    database: str | None = None
    current: int | None = None
    limit: int | None = None
    pressure: float = 0.0
    cause: str | None = None
    headline: str | None = None
    stuck: Stuck | None = None
    headroom: Headroom | None = None
