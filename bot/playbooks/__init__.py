"""Playbooks: data in the repository's `playbooks/` directory, validated at start-up.

Each YAML file is one situation: the finding codes it applies to, what to do now, what to
change to prevent it, and suggested SQL. Text is Jinja2 filled from a finding's facts
(`bot.triage.facts`); SQL may print values only through `|ident` and `|literal`.
"""

from bot.playbooks.loader import DEFAULT_DIRECTORY, load_playbooks
from bot.playbooks.model import Playbook, PlaybookSet, SqlTemplate

__all__ = ["DEFAULT_DIRECTORY", "Playbook", "PlaybookSet", "SqlTemplate", "load_playbooks"]
