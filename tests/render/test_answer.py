"""What every renderer says the same way: fix labels, their statements, plain words."""

from __future__ import annotations

import pglast
import pytest

from bot.render import answer
from bot.render.blocks import MAX_BUTTON_TEXT
from bot.triage.model import ActionKind, Finding, PlaybookSection, ProposedAction, Report, Severity
from tests import factories

HOSTILE = ['a"b', "x; DROP ROLE admin; --", "<!channel> & <@U0001>", "`", "ünï 😀", "r" * 63]


def _actions(name: str) -> list[ProposedAction]:
    return [
        ProposedAction(
            ActionKind.TERMINATE,
            "t",
            "s",
            {"role": name, "state": "idle in transaction", "min_age_s": 600, "pids": [1, 2]},
        ),
        ProposedAction(ActionKind.CANCEL, "t", "s", {"role": name, "state": "active"}),
        ProposedAction(
            ActionKind.SET_ROLE_CONN_LIMIT, "t", "s", {"role": name, "limit": 7, "current_limit": 5}
        ),
        ProposedAction(
            ActionKind.SET_DATABASE_CONN_LIMIT,
            "t",
            "s",
            {"database": name, "limit": 4, "current_limit": 3},
        ),
        ProposedAction(
            ActionKind.SET_ROLE_IDLE_TX_TIMEOUT, "t", "s", {"role": name, "timeout": "5min"}
        ),
    ]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_statement_parses_and_every_label_fits(name: str) -> None:
    for action in _actions(name):
        statement = answer.statement(action)
        assert statement is not None
        pglast.parse_sql(statement)  # raises on anything PostgreSQL would not parse
        label = answer.label(action)
        assert len(label) <= MAX_BUTTON_TEXT
        assert label.split()[0] in ("Terminate", "Cancel", "Raise", "Time")


def test_labels_name_what_the_fix_does() -> None:
    terminate, cancel, role, database, timeout = _actions("app_user")
    assert answer.label(terminate) == "Terminate 2 idle-in-transaction sessions of app_user"
    assert answer.label(cancel) == "Cancel the queries of active sessions of app_user"
    assert answer.label(role) == "Raise app_user's limit 5 → 7"
    assert answer.label(database) == "Raise database app_user's limit 3 → 4"
    assert answer.label(timeout) == "Time out app_user's idle transactions after 5min"
    one = ProposedAction(
        ActionKind.TERMINATE, "t", "s", {"role": "r", "state": "idle", "pids": [9]}
    )
    assert answer.label(one) == "Terminate 1 idle session of r"


def test_a_statement_missing_a_value_is_withheld() -> None:
    action = ProposedAction(ActionKind.SET_ROLE_CONN_LIMIT, "t", "s", {"role": "r"})
    assert answer.statement(action) is None


def test_fixes_that_free_slots_come_first_once_each() -> None:
    terminate, _, role, _, timeout = _actions("app_user")
    findings = (
        Finding("role_limit", Severity.CRITICAL, "full", (), actions=(role,)),
        Finding(
            "idle_in_transaction", Severity.CRITICAL, "stuck", (), actions=(terminate, timeout)
        ),
        Finding("other", Severity.WARNING, "again", (), actions=(terminate,)),
    )
    found = answer.fixes(Report("prod", "h", findings))
    assert [f.action.kind for f in found] == [
        ActionKind.TERMINATE,
        ActionKind.SET_ROLE_CONN_LIMIT,
        ActionKind.SET_ROLE_IDLE_TX_TIMEOUT,
    ]
    assert (found[0].finding_index, found[0].action_index) == (1, 0)


def test_plain_words() -> None:
    assert answer.plain_words("Raise <role>'s limit to <new limit: no free slots>") == (
        "Raise the role's limit to the new limit"
    )
    assert answer.plain_words("1 session(s), 91 ordinary slot(s), connection(s)") == (
        "1 session, 91 ordinary slots, connections"
    )
    assert (
        answer.plural(1, "fix", "fixes") == "1 fix"
        and answer.plural(2, "fix", "fixes") == "2 fixes"
    )


def test_the_paste_is_quoted_as_the_user_wrote_it() -> None:
    sig = factories.signal(
        "role_limit",
        role="app_user",
        source="libpq",
        first_line=2,
        excerpt="psql: error: connection to server failed: FATAL:  too many connections for role "
        '"app_user"',
    )
    assert answer.paste_excerpt(sig) == 'too many connections for role "app_user"'
    assert answer.paste_quote(sig) == "libpq, line 2"
    fenced = factories.signal("role_limit", excerpt="```FATAL: x```", count=3)
    assert answer.paste_excerpt(fenced) == "x"
    assert answer.paste_quote(fenced).endswith("(3 times)")


def test_prevent_is_merged_across_findings() -> None:
    def pb(*prevent: str) -> PlaybookSection:
        return PlaybookSection("p", "P", (), prevent, ())

    findings = (
        Finding(
            "a",
            Severity.CRITICAL,
            "a",
            (),
            playbook=pb("Set idle_session_timeout to 30min.", "Use a pooler."),
        ),
        Finding(
            "b",
            Severity.WARNING,
            "b",
            (),
            playbook=pb("Use a pooler.", "idle_session_timeout is off: set it.", "Own advice."),
        ),
    )
    assert answer.prevent(Report("prod", "h", findings)) == [
        "Set idle_session_timeout to 30min.",
        "Use a pooler.",
        "Own advice.",
    ]
