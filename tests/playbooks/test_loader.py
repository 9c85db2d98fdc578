"""Loading and validating playbook files, and rendering every playbook."""

from __future__ import annotations

import dataclasses
import itertools
import json
import textwrap
from pathlib import Path

import pytest

from bot.errors import PlaybookError
from bot.playbooks import DEFAULT_DIRECTORY, load_playbooks
from bot.playbooks.templating import SQL, TEXT, MissingValue
from bot.triage.codes import FindingCode
from bot.triage.facts import (
    FACTS_BY_CODE,
    DatabaseFacts,
    NotConfirmedFacts,
    Placeholder,
    PoolerFacts,
    RoleFacts,
    SessionFacts,
    context,
    placeholders,
    server_facts,
    variables,
)
from bot.triage.pooler import pooler_server_fields
from bot.triage.thresholds import DEFAULT_THRESHOLDS
from tests.factories import pooler_snapshot, repo_playbooks, sessions, snapshot

GOOD = """\
id: good
title: Role {{ role }} is full
applies_to: [role_limit]
now:
  - Look at {{ role }} ({{ role_current }}/{{ role_limit }}).
prevent:
  - Size the pools.
sql:
  - purpose: Sessions of {{ role }}
    statement: SELECT pid FROM pg_stat_activity WHERE usename = {{ role | literal }};
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_default_directory_is_the_repository_playbooks() -> None:
    import bot

    assert Path(bot.__file__).parent.parent / "playbooks" == DEFAULT_DIRECTORY
    assert len(repo_playbooks()) == len(list(DEFAULT_DIRECTORY.glob("*.yaml")))


def test_every_finding_code_has_a_playbook() -> None:
    assert repo_playbooks().codes == frozenset(FindingCode)


def test_a_good_playbook_loads_and_renders(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    (playbook,) = load_playbooks(tmp_path)
    assert playbook.applies_to == (FindingCode.ROLE_LIMIT,)
    ctx = {"role": 'we"ird', "role_current": 5, "role_limit": 5}
    section = playbook.render(ctx)
    assert section.title == 'Role we"ird is full'
    assert section.now == ('Look at we"ird (5/5).',)
    assert section.sql[0].statement.endswith("""WHERE usename = 'we"ird';""")


def test_broken_directory_reports_every_problem_with_its_file(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    bad_yaml = write(tmp_path, "bad-yaml.yaml", "id: x\nnow: [unclosed\n")
    missing = write(tmp_path, "missing.yaml", "id: missing\ntitle: T\napplies_to: [role_limit]\n")
    syntax = write(
        tmp_path,
        "syntax.yaml",
        GOOD.replace("id: good", "id: syntax")
        .replace("[role_limit]", "[database_limit]")
        .replace("Size the pools.", "'{% if live %}never closed'"),
    )
    unsafe = write(
        tmp_path,
        "unsafe.yaml",
        GOOD.replace("id: good", "id: unsafe")
        .replace("[role_limit]", "[idle_sessions]")
        .replace("Look at {{ role }} ({{ role_current }}/{{ role_limit }}).", "Go.")
        .replace("{{ role | literal }}", "'{{ role }}'"),
    )
    unknown = write(
        tmp_path,
        "unknown.yaml",
        GOOD.replace("id: good", "id: good")
        .replace("[role_limit]", "[role_limt, idle_in_transaction]")
        .replace("role_current", "role_curent")
        .replace("prevent:", "prevnt:"),
    )
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path)
    message = str(caught.value)
    expected = [
        (bad_yaml, "invalid YAML"),
        (missing, "now: required"),
        (missing, "prevent: required"),
        (syntax, "prevent[0]: template syntax error"),
        (unsafe, "sql[0].statement: line 1: {{ role }} must end in |ident or |literal"),
        (unknown, "applies_to[0]: unknown finding code 'role_limt' (did you mean 'role_limit'?)"),
        (unknown, "prevnt: unknown key"),
        (unknown, "prevent: required"),
    ]
    for path, problem in expected:
        assert f"{path}: {problem}" in message, (path, problem)
    # Only what is reported with its own line counts: one problem per line.
    assert message.count("\n  - ") >= len(expected)


def test_unknown_variable_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", GOOD.replace("role_current", "role_curent"))
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path)
    assert f"{path}: now[0]: unknown variable 'role_curent' (did you mean 'role_current'?)" in str(
        caught.value
    )


def test_variable_must_exist_for_every_code_the_playbook_applies_to(tmp_path: Path) -> None:
    # role_limit is a RoleFacts variable; database_limit findings do not have it.
    path = write(
        tmp_path, "both.yaml", GOOD.replace("[role_limit]", "[role_limit, database_limit]")
    )
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path)
    assert f"{path}: now[0]: unknown variable 'role_current'" in str(caught.value)


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("SELECT {{ role }};", "{{ role }} must end in |ident or |literal"),
        ("SELECT {{ role | upper }};", "{{ role|upper }} must end in |ident or |literal"),
        ("SELECT {{ role | literal ~ 'x' }};", "must end in |ident or |literal"),
        ("SELECT 1; -- for {{ role | literal }}", "no values inside a -- comment"),
        ("SELECT pg_terminate_backend({{ role_current | literal }});", "destructive: must be true"),
    ],
)
def test_unsafe_sql_templates_are_refused(tmp_path: Path, statement: str, problem: str) -> None:
    text = GOOD.replace(
        "statement: SELECT pid FROM pg_stat_activity WHERE usename = {{ role | literal }};",
        f"statement: {json.dumps(statement)}",  # a JSON string is a YAML string
    )
    write(tmp_path, "sql.yaml", text)
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path)
    assert problem in str(caught.value)


def test_duplicate_ids_and_codes_are_reported(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path)
    message = str(caught.value)
    assert f"{second}: id: 'good' is also the id of {first}" in message
    assert f"{second}: applies_to: role_limit is already covered by {first}" in message


def test_not_a_mapping_and_empty_directory(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- just\n- a list\n")
    with pytest.raises(PlaybookError, match=f"{path}: expected a mapping"):
        load_playbooks(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PlaybookError, match="no playbook files"):
        load_playbooks(empty)
    with pytest.raises(PlaybookError, match="not found"):
        load_playbooks(tmp_path / "absent")


def test_sql_filters_refuse_placeholders_and_text_filters_show_them() -> None:
    unknown = Placeholder("new limit")
    with pytest.raises(MissingValue):
        SQL.from_string("{{ x | literal }}").render(x=unknown)
    with pytest.raises(MissingValue):
        SQL.from_string("{{ x | ident }}").render(x=unknown)
    assert TEXT.from_string("{{ x | literal }}").render(x=unknown) == "<new limit>"
    assert TEXT.from_string("{{ x is known }}").render(x=unknown) == "False"
    assert SQL.from_string("{{ x | ident }}").render(x='a"b') == '"a""b"'
    assert SQL.from_string("{{ x | literal }}").render(x="o'k") == "'o''k'"


def _live_extras() -> dict[type, list[object]]:
    return {
        RoleFacts: [
            RoleFacts(20, 20, 0, 25, 3, 17, 0),
            RoleFacts(20, 20, 0, Placeholder("new limit: no free server slots to give"), 20, 0, 0),
        ],
        DatabaseFacts: [
            DatabaseFacts(30, 30, 0, 38),
            DatabaseFacts(30, 30, 0, Placeholder("new limit")),
        ],
        SessionFacts: [
            SessionFacts("idle", 17, True, 1800, "30 min", "checkout", "10.0.3.4"),
            SessionFacts(
                "idle", 5, False, 700, "11 min", Placeholder("application"), Placeholder("client")
            ),
        ],
        NotConfirmedFacts: [
            NotConfirmedFacts("role_limit", "role app_user", 3, 20),
            NotConfirmedFacts("role_limit", "role svc", 4, Placeholder("no limit")),
            NotConfirmedFacts(
                "role_limit", "a role", Placeholder("current"), Placeholder("no limit")
            ),
        ],
        PoolerFacts: [
            PoolerFacts(
                "appdb/app_user",
                "appdb",
                "app_user",
                "transaction",
                20,
                5,
                20,
                7,
                12,
                27,
                "max_db_connections",
                40,
                40,
                95,
                100,
                130,
                120,
                "LISTEN orders (2)",
            ),
            PoolerFacts(
                "appdb/app_user",
                "appdb",
                "app_user",
                "session",
                20,
                0,
                20,
                0,
                0,
                Placeholder("new pool size: PostgreSQL has no room"),
                "max_user_connections",
                20,
                20,
                12,
                100,
                130,
                0,
                "session advisory lock (1)",
            ),
            placeholders(PoolerFacts),
        ],
    }


@pytest.mark.parametrize("code", list(FindingCode))
def test_every_playbook_renders_with_and_without_live_data(code: FindingCode) -> None:
    playbook = repo_playbooks().for_code(code)
    assert playbook is not None
    extra_type = FACTS_BY_CODE[code]
    snapshots = [
        snapshot(sessions(n), version=v, can_use_reserved=can, max_connections=20)
        for v, can, n in itertools.product((120015, 130012, 160002, 180001), (True, False), (5, 19))
    ]
    t = DEFAULT_THRESHOLDS
    for snap in snapshots:
        server = server_facts(
            snap,
            t,
            cluster="prod",
            role="app_user",
            database="appdb",
            seen=2,
            detail="max_client_conn",
        )
        # Without a pooler, and with one in front (pool sizes against the role's limit).
        behind = dataclasses.replace(
            server, **pooler_server_fields(pooler_snapshot(), snap, "app_user")
        )
        for facts in (server, behind):
            for extra in _live_extras().get(extra_type, [None]) if extra_type else [None]:
                section = playbook.render(context(facts, extra))  # type: ignore[arg-type]
                assert section.now
                assert section.title
                if extra is not None and isinstance(extra, PoolerFacts) and extra.pool == "<pool>":
                    continue  # a pooler finding from the paste alone: no pool to name
                assert "<" not in section.title or "no limit" in section.title
    bare = server_facts(None, t, cluster=None)
    unknown_extra = placeholders(extra_type) if extra_type else None
    section = playbook.render(context(bare, unknown_extra))
    assert section.now
    for s in section.sql:
        assert "<role>" not in s.statement
        assert "<database>" not in s.statement


def test_readme_documents_every_code_and_variable() -> None:
    readme = (DEFAULT_DIRECTORY / "README.md").read_text(encoding="utf-8")
    for code in FindingCode:
        assert f"`{code.value}`" in readme
        for name in variables(code):
            assert f"`{name}`" in readme, name


def test_the_directory_can_come_from_the_environment(tmp_path, monkeypatch):
    from bot.errors import PlaybookError
    from bot.playbooks import load_playbooks

    monkeypatch.setenv("PGCONN_PLAYBOOKS", str(tmp_path / "missing"))
    with pytest.raises(PlaybookError, match="PGCONN_PLAYBOOKS"):
        load_playbooks()
