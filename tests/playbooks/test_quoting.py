"""The playbook SQL filters quote exactly as psycopg's sql.Identifier / sql.Literal do, also
where they do it without importing psycopg."""

from __future__ import annotations

import pytest
from psycopg import sql

from bot.playbooks.templating import _ident, _literal

HOSTILE = [
    "app",
    "",
    'a"b',
    "a'b",
    "x; DROP ROLE admin; --",
    "Ünïcödé ロール",
    "r" * 63,
    "a\\b",
    "tab\there",
    "new\nline",
    "'; SELECT pg_terminate_backend(1); --",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_ident_matches_psycopg(value: str) -> None:
    assert _ident(value) == sql.Identifier(value).as_string(None)


@pytest.mark.parametrize(
    "value", [*HOSTILE, 0, 42, -3, 10**20, True, False, 1.5, -0.25, float("inf")]
)
def test_literal_matches_psycopg(value: object) -> None:
    assert _literal(value) == sql.Literal(value).as_string(None).strip()
