"""`/pgconn` against a real server with a role really at its CONNECTION LIMIT."""

from __future__ import annotations

from typing import Any

from bot.slack.listeners.commands import Parsed, parse
from tests.slack.conftest import DOWN_DSN, Incident, StartBot, button_values


def clusters(incident: Incident) -> dict[str, Any]:
    return {
        "prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]},
        "staging": {"dsn": incident.monitor_dsn},
        "down": {"dsn": DOWN_DSN},
        "billing": {"dsn": incident.monitor_dsn, "channels": ["#billing-oncall"]},
    }


def ephemeral(response: Any) -> str:
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return str(body["text"]) + str(body.get("blocks", ""))


def test_diagnosis_posts_summary_in_channel_and_report_in_its_thread(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    ack = bot.send.command("prod")
    assert ack.status_code == 200
    assert ack.text == ""  # acknowledged at once; the answer is posted, not returned

    summary = bot.fake.wait_for(
        lambda: [c for c in bot.posts("CINC") if "thread_ts" not in c.body]
    )[0]
    assert incident.role in summary.shown()
    assert "*prod*" in summary.shown()
    assert "in the thread" in summary.shown()
    ts = summary.answer["ts"]
    thread = bot.wait_thread("CINC", ts, 2)
    shown = "\n".join(c.shown() for c in thread)
    assert "```" in shown  # suggested SQL in code blocks
    assert "*Do now*" in thread[0].shown()  # the answer first
    assert "*Steps*" in shown
    values = button_values(thread)
    assert values, "proposed actions are rendered as buttons"
    assert all(v["cluster"] == "prod" and v["kind"] for v in values)
    assert any(v["params"].get("role") == incident.role for v in values)
    # Every post of the report is a thread reply under the summary.
    assert {c.body["thread_ts"] for c in thread} == {ts}


def test_role_argument_narrows_the_report(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident))
    assert bot.send.command(f"prod {incident.role}").status_code == 200
    summary = bot.fake.wait_for(lambda: bot.posts("CINC"))[0]
    assert incident.role in summary.shown()


def test_missing_unknown_and_forbidden_clusters_get_ephemeral_help(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    missing = ephemeral(bot.send.command(""))
    assert "Which cluster?" in missing
    assert "`prod`" in missing
    assert "`staging`" in missing
    assert "`billing`" not in missing  # bound to another channel

    unknown = ephemeral(bot.send.command("prdo"))
    assert "no cluster named `prdo`" in unknown
    assert "`prod`" in unknown

    forbidden = ephemeral(bot.send.command("prod", channel="COTHER", channel_name="random"))
    assert "may only be used in <#CINC>" in forbidden
    assert "`staging`" in forbidden

    by_name = ephemeral(bot.send.command("billing", channel="CB", channel_name="random"))
    assert "#billing-oncall" in by_name
    assert bot.send.command("billing", channel="CB", channel_name="billing-oncall").text == ""

    too_many = ephemeral(bot.send.command("prod a b"))
    assert "Too many words" in too_many

    hostile = ephemeral(bot.send.command("&lt;!channel&gt;"))
    assert "<!channel>" not in hostile
    assert "&lt;!channel&gt;" in hostile

    assert "/pgconn list" in ephemeral(bot.send.command("help"))
    bot.fake.wait_for(lambda: bot.posts("CB"))  # the allowed `billing` did run
    assert bot.posts("CINC") == []
    assert bot.posts("COTHER") == []


def test_list_shows_headroom_of_each_usable_cluster(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    response_url = bot.fake.response_url("list-1")
    assert bot.send.command("list", response_url=response_url).text == ""
    [reply] = bot.fake.wait_for(lambda: bot.fake.find("response"))
    shown = reply.shown()
    assert reply.body["response_type"] == "ephemeral"
    for name in ("prod", "staging", "down"):
        assert f"*{name}*" in shown
    assert "server slots: " in shown and " used (" in shown
    assert "billing" not in shown.replace("1 more cluster(s)", "")
    assert "1 more cluster bound to other channels" in shown
    # Least headroom first; the unreachable cluster last.
    assert shown.index("*down*") > shown.index("*prod*")


def test_not_in_channel_is_told_to_the_requester(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident))
    bot.fake.error_once("chat.postMessage", "not_in_channel")
    bot.send.command("staging", channel="CPRIV", response_url=bot.fake.response_url("r"))
    [reply] = bot.fake.wait_for(lambda: bot.fake.find("response"))
    assert "not_in_channel" in reply.shown()
    assert "/invite @pgconn" in reply.shown()
    assert "*staging*" in reply.shown()  # the summary comes with it


def test_parse() -> None:
    assert parse("prod").cluster == "prod"
    assert parse(" prod   app ").role == "app"
    assert parse('prod "batch jobs"').role == "batch jobs"
    assert parse("prod “batch jobs”").role == "batch jobs"  # Slack's curly quotes
    assert parse("prod a&amp;b").role == "a&b"  # Slack escapes &, < and >
    assert parse('prod "unbalanced').role == '"unbalanced'
    assert parse("HELP").verb == "help"
    assert parse("").verb == "usage"
    assert parse("a b c").verb == "usage"
    # `fresh`: a full report even minutes after the last one.
    assert parse("prod fresh") == Parsed("diagnose", "prod", None, fresh=True)
    assert parse("prod app FRESH") == Parsed("diagnose", "prod", "app", fresh=True)
    assert parse("prod app").fresh is False
    assert parse("fresh").cluster == "fresh"  # a cluster may be named so
