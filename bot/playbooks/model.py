"""Loaded playbooks: compiled templates that render into a report's PlaybookSection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Template, TemplateError

from bot.errors import PlaybookError
from bot.playbooks.templating import MissingValue
from bot.triage.codes import FindingCode
from bot.triage.model import PlaybookSection, SuggestedSql


@dataclass(frozen=True, slots=True)
class SqlTemplate:
    purpose: Template
    statement: Template
    destructive: bool


@dataclass(frozen=True, slots=True)
class Playbook:
    id: str
    path: Path
    applies_to: tuple[FindingCode, ...]
    title: Template
    now: tuple[Template, ...]
    prevent: tuple[Template, ...]
    sql: tuple[SqlTemplate, ...]

    def render(self, context: Mapping[str, object]) -> PlaybookSection:
        """Fill the templates. Steps and statements that render empty are left out (that is how
        a template makes one conditional); a statement needing an unknown value is withheld."""
        try:
            statements = []
            withheld = []
            for s in self.sql:
                purpose = _one_line(s.purpose.render(context))
                try:
                    statement = s.statement.render(context).strip()
                except MissingValue as exc:
                    needs = "" if exc.placeholder in purpose else f" (needs {exc.placeholder})"
                    withheld.append(purpose + needs)
                    continue
                if statement:
                    statements.append(SuggestedSql(purpose, statement, s.destructive))
            return PlaybookSection(
                playbook=self.id,
                title=_one_line(self.title.render(context)),
                now=_steps(self.now, context),
                prevent=_steps(self.prevent, context),
                sql=tuple(statements),
                withheld=tuple(withheld),
            )
        except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            raise PlaybookError(
                f"{self.path}: playbook {self.id} failed to render: {type(exc).__name__}: {exc}"
            ) from exc


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _steps(templates: tuple[Template, ...], context: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(step for t in templates if (step := _one_line(t.render(context))))


class PlaybookSet:
    """Playbooks by the finding code they apply to (at most one per code)."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        self._playbooks = tuple(playbooks)
        self._by_code: dict[FindingCode, Playbook] = {}
        for p in self._playbooks:
            for code in p.applies_to:
                if code in self._by_code:
                    raise PlaybookError(
                        f"{p.path}: {code.value} already has playbook "
                        f"{self._by_code[code].id} ({self._by_code[code].path})"
                    )
                self._by_code[code] = p

    def for_code(self, code: FindingCode | str) -> Playbook | None:
        try:
            return self._by_code.get(FindingCode(code))
        except ValueError:
            return None

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self._playbooks)

    def __len__(self) -> int:
        return len(self._playbooks)

    @property
    def codes(self) -> frozenset[FindingCode]:
        return frozenset(self._by_code)
