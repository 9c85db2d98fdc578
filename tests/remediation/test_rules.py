"""Pure rules: who may approve, which params a fix accepts, the config keys, the records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from psycopg.conninfo import conninfo_to_dict

from bot.config import parse
from bot.errors import ConfigError
from bot.remediation import Criteria, InvalidActionError, Policy, Proposal, Target
from bot.remediation.admin import admin_conninfo
from bot.remediation.model import Change, Excluded, ExecutionResult, Skipped
from bot.remediation.params import criteria, limit_change, timeout_change
from bot.triage.model import ActionKind, ProposedAction


def _config(**extra: object) -> dict[str, object]:
    return {
        "clusters": {
            "prod": {"dsn": "host=db", "admin_dsn": "host=db user=admin", **extra},
            "dev": {"dsn": "host=dev"},
        },
        "approvers": ["UGLOBAL"],
        "approver_usergroup": "SGLOBAL",
    }


def test_cluster_approvers_replace_the_global_ones() -> None:
    config = parse(_config(approvers=["UDBA"]), env={})
    prod = Policy.for_cluster(config, "prod")
    assert (prod.approvers, prod.usergroup) == (("UDBA",), None)
    dev = Policy.for_cluster(config, "dev")
    assert (dev.approvers, dev.usergroup) == (("UGLOBAL",), "SGLOBAL")
    assert dev.not_configured() is not None
    assert "no admin_dsn" in str(dev.not_configured())
    assert prod.not_configured() is None


def test_defaults() -> None:
    prod = Policy.for_cluster(parse(_config(), env={}), "prod")
    assert prod.two_person_rule
    assert not prod.allow_superuser_targets
    assert prod.max_sessions == 50
    assert prod.ttl_s == 15 * 60


def test_two_person_rule_and_approvers() -> None:
    policy = Policy.for_cluster(parse(_config(approvers=["U1", "U2"]), env={}), "prod")
    assert policy.may_approve("U1", "U2").allowed
    mine = policy.may_approve("U1", "U1")
    assert not mine.allowed
    assert "two-person rule" in mine.reason
    assert not policy.may_approve("U3", "U1").allowed
    assert policy.who() == "U1 or U2 (never the requester)"
    assert policy.who(lambda u: f"<@{u}>") == "<@U1> or <@U2> (never the requester)"
    # The requester may withdraw their own request; a stranger may not reject it.
    assert policy.may_reject("U3", "U3").allowed
    assert not policy.may_reject("U4", "U3").allowed

    relaxed = Policy.for_cluster(
        parse(_config(approvers=["U1"], two_person_rule=False), env={}), "prod"
    )
    assert relaxed.may_approve("U1", "U1").allowed
    assert relaxed.who() == "U1"


def test_user_group_membership_comes_from_the_adapter() -> None:
    policy = Policy.for_cluster(parse(_config(approver_usergroup="SDBA"), env={}), "prod")
    asked: list[str] = []

    def members(group: str) -> list[str]:
        asked.append(group)
        return ["UMEMBER"]

    assert policy.may_approve("UMEMBER", "UREQ", members).allowed
    assert asked == ["SDBA"]
    assert not policy.may_approve("UOUT", "UREQ", members).allowed
    assert not policy.may_approve("UMEMBER", "UREQ").allowed  # no resolver: IDs only
    assert not policy.may_approve("UMEMBER", "UMEMBER", members).allowed  # two-person rule

    def broken(group: str) -> list[str]:
        raise RuntimeError("slack is down")

    verdict = policy.may_approve("UMEMBER", "UREQ", broken)
    assert not verdict.allowed
    assert "could not check the members" in verdict.reason
    assert policy.who(group=lambda g: f"<!subteam^{g}>") == (
        "members of <!subteam^SDBA> (never the requester)"
    )


def test_config_keys_are_validated_with_paths() -> None:
    with pytest.raises(ConfigError) as info:
        parse(
            _config(
                two_person_rule="yes",
                allow_superuser_targets=1,
                max_sessions_per_action=0,
                approval_ttl_minutes=1.5,
                approvers="",
                approver_usergroup=[],
            ),
            env={},
        )
    problems = "\n".join(info.value.problems)
    for expected in [
        "clusters.prod.two_person_rule: must be true or false",
        "clusters.prod.allow_superuser_targets: must be true or false",
        "clusters.prod.max_sessions_per_action: must be between 1 and 10000",
        "clusters.prod.approval_ttl_minutes: must be a whole number",
        "clusters.prod.approvers[0]: must be a non-empty string",
        "clusters.prod.approver_usergroup: must be a non-empty string",
    ]:
        assert expected in problems, (expected, problems)


def _action(kind: ActionKind, **params: str | int | list[int]) -> ProposedAction:
    return ProposedAction(kind, "t", "s", params)


def test_session_criteria() -> None:
    c = criteria(
        _action(
            ActionKind.TERMINATE,
            role="app",
            state="idle in transaction",
            min_age_s=600,
            pids=[1, 2],
        )
    )
    assert c == Criteria(
        role="app", states=("idle in transaction", "idle in transaction (aborted)"), min_age_s=600.0
    )
    assert c.describe() == (
        'role "app", idle in transaction or idle in transaction (aborted) for more than 10 min'
    )
    assert criteria(_action(ActionKind.TERMINATE, client="10.0.0.5")).states is None
    assert criteria(_action(ActionKind.CANCEL, application="etl")).states == ("active",)
    for bad, message in [
        ({"state": "idle"}, "must name a role, an application or a client"),
        ({"role": "a", "state": "sleeping"}, "unknown session state"),
        ({"role": "a", "min_age_s": -1}, "between"),
        ({"role": "a", "min_age_s": "600"}, "whole number"),
        ({"role": 5}, "not a name"),
        ({"role": "r" * 64}, "longer than PostgreSQL allows"),
    ]:
        with pytest.raises(InvalidActionError, match=message):
            criteria(_action(ActionKind.TERMINATE, **bad))  # type: ignore[arg-type]
    with pytest.raises(InvalidActionError, match="state must be active"):
        criteria(_action(ActionKind.CANCEL, role="a", state="idle"))


def test_change_params() -> None:
    assert limit_change(_action(ActionKind.SET_ROLE_CONN_LIMIT, role="a", limit=-1)).limit == -1
    with pytest.raises(InvalidActionError, match="between"):
        limit_change(_action(ActionKind.SET_DATABASE_CONN_LIMIT, database="d", limit=-2))
    with pytest.raises(InvalidActionError, match="no database"):
        limit_change(_action(ActionKind.SET_DATABASE_CONN_LIMIT, limit=3))
    assert (
        timeout_change(
            _action(ActionKind.SET_ROLE_IDLE_TX_TIMEOUT, role="a", timeout="5min")
        ).timeout
        == "5min"
    )
    assert (
        timeout_change(
            _action(ActionKind.SET_ROLE_IDLE_TX_TIMEOUT, role="a", timeout=60000)
        ).timeout
        == "60000"
    )
    for bad in ("5 minutes", "1; DROP ROLE x", "-1s", ""):
        with pytest.raises(InvalidActionError, match="duration"):
            timeout_change(_action(ActionKind.SET_ROLE_IDLE_TX_TIMEOUT, role="a", timeout=bad))


def test_records_round_trip_through_json() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    target = Target(
        pid=7,
        backend_start=start,
        role='a"b',
        database="d",
        application="x",
        client="local",
        state="active",
        state_age_s=12.5,
        query_start=start,
        query="SELECT 1",
    )
    proposal = Proposal(
        cluster="prod",
        kind=ActionKind.CANCEL,
        title="t",
        statement="SELECT 1",
        blast_radius="b",
        criteria=Criteria(role='a"b', states=("active",), min_age_s=5),
        targets=(target,),
        excluded=(Excluded(9, "su", "psql", "superuser"),),
        over_cap=2,
        notes=("n",),
    )
    back = Proposal.from_json("prod", proposal.to_json(), [target.to_json()], "SELECT 1")
    assert back == proposal
    change = Proposal(
        cluster="prod",
        kind=ActionKind.SET_ROLE_CONN_LIMIT,
        title="t",
        statement="ALTER",
        blast_radius="b",
        change=Change("role", "r", "CONNECTION LIMIT", 3, 5, 3),
    )
    assert Proposal.from_json("prod", change.to_json(), [], "ALTER") == change
    result = ExecutionResult(
        kind=ActionKind.TERMINATE,
        statement="s",
        signalled=(1, 2),
        gone=(1,),
        skipped=(Skipped(3, "ended"),),
        changed=True,
        freed="1",
        headroom=("h",),
    )
    assert ExecutionResult.from_json(result.to_json()) == result


def test_admin_connection_is_named_and_bounded() -> None:
    params = conninfo_to_dict(
        admin_conninfo(
            "host=db user=admin password=pw application_name=other connect_timeout=30 "
            "options='-c search_path=x'"
        )
    )
    assert params["application_name"] == "pgconn-admin"
    assert params["connect_timeout"] == "5"
    options = str(params["options"])
    assert options.startswith("-c search_path=x ")
    for setting in (
        "statement_timeout=10s",
        "lock_timeout=2s",
        "idle_in_transaction_session_timeout=15s",
    ):
        assert f"-c {setting}" in options
    assert "default_transaction_read_only" not in options
