"""Jinja2 environments for playbook templates: one for text, one for SQL.

Both are sandboxed and strict (an unknown variable is an error, not an empty string). In SQL,
every value must go through `|ident` (an identifier, quoted by psycopg) or `|literal` (a value,
quoted by psycopg); `unsafe_outputs` finds the places that do not, so the loader can refuse them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.triage.facts import Placeholder
from bot.triage.units import human_duration, setting_duration_ms

SQL_FILTERS = frozenset({"ident", "literal"})


class MissingValue(Exception):
    """A SQL template needed a value that is not known; the statement is withheld."""

    def __init__(self, placeholder: Placeholder) -> None:
        self.placeholder = placeholder
        super().__init__(f"needs {placeholder}")


def _ident(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"|ident needs a name, got {type(value).__name__}")
    if "\x00" not in value:
        # What psycopg's sql.Identifier(value).as_string(None) returns, without importing
        # psycopg for a short command (tests compare the two).
        return '"' + value.replace('"', '""') + '"'
    from psycopg import sql

    return sql.Identifier(value).as_string(None)


def _literal(value: object) -> str:
    if not isinstance(value, str | int | float | bool):
        raise TypeError(f"|literal needs a string or a number, got {type(value).__name__}")
    # The common cases spelled as psycopg's sql.Literal(value).as_string(None) spells them;
    # backslashes (an E'' string), NULs and floats are left to psycopg.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "\\" not in value and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    from psycopg import sql

    return sql.Literal(value).as_string(None).strip()


def _refuse_placeholders(quote: Callable[[object], str]) -> Callable[[object], str]:
    def filter_(value: object) -> str:
        if isinstance(value, Placeholder):
            raise MissingValue(value)
        return quote(value)

    return filter_


def _show_placeholders(quote: Callable[[object], str]) -> Callable[[object], str]:
    def filter_(value: object) -> str:
        return value if isinstance(value, Placeholder) else quote(value)

    return filter_


def _duration(seconds: object) -> str:
    if isinstance(seconds, Placeholder):
        return seconds
    if not isinstance(seconds, int | float):
        raise TypeError(f"|duration needs seconds, got {type(seconds).__name__}")
    return human_duration(seconds)


def _duration_ms(ms: object) -> str:
    if isinstance(ms, Placeholder):
        return ms
    if not isinstance(ms, int):
        raise TypeError(f"|duration_ms needs milliseconds, got {type(ms).__name__}")
    return setting_duration_ms(ms)


def _environment(filters: dict[str, Callable[[Any], Any]]) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(filters)
    # `{% if x is known %}`: the value came from live data or the paste, not a placeholder.
    env.tests["known"] = lambda value: not isinstance(value, Placeholder)
    return env


TEXT = _environment(
    {
        "ident": _show_placeholders(_ident),
        "literal": _show_placeholders(_literal),
        "duration": _duration,
        "duration_ms": _duration_ms,
    }
)
SQL = _environment(
    {"ident": _refuse_placeholders(_ident), "literal": _refuse_placeholders(_literal)}
)

_COMMENT_THEN_VALUE = re.compile(r"--.*\{\{")


def unsafe_outputs(template: nodes.Template, source: str) -> list[str]:
    """Where a SQL template prints something that is not quoted by `|ident` or `|literal`."""
    problems = []
    for output in template.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                continue
            if isinstance(child, nodes.Filter) and child.name in SQL_FILTERS:
                continue
            shown = _describe(child)
            problems.append(
                f"line {child.lineno}: {{{{ {shown} }}}} must end in |ident or |literal"
            )
    # A value after `--` would sit in a comment that a newline inside the value could end.
    for lineno, line in enumerate(source.splitlines(), 1):
        if _COMMENT_THEN_VALUE.search(line):
            problems.append(f"line {lineno}: no values inside a -- comment")
    return problems


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Filter) and node.node is not None:
        return f"{_describe(node.node)}|{node.name}"
    if isinstance(node, nodes.Getattr):
        return f"{_describe(node.node)}.{node.attr}"
    return type(node).__name__.lower()
