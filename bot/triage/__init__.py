"""Triage: from recognised signals and a live snapshot to a ranked report with playbooks."""

from bot.triage.codes import FindingCode
from bot.triage.engine import triage
from bot.triage.model import (
    ActionKind,
    Finding,
    PlaybookSection,
    ProposedAction,
    Report,
    Severity,
    SuggestedSql,
)
from bot.triage.thresholds import DEFAULT_THRESHOLDS, Thresholds

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ActionKind",
    "Finding",
    "FindingCode",
    "PlaybookSection",
    "ProposedAction",
    "Report",
    "Severity",
    "SuggestedSql",
    "Thresholds",
    "triage",
]
