"""Pasted errors, mentions and uploaded logs, with the real FATAL of a real refused connection."""

from __future__ import annotations

import gzip
import os
from typing import Any

from bot.render.blocks import NO_CLUSTER, PICK_ACTION
from bot.slack.context import Tuning
from tests.slack.conftest import Bot, Incident, StartBot, button_values
from tests.slack.fake import BOT_ID, BOT_USER, Call


def clusters(incident: Incident) -> dict[str, Any]:
    return {
        "prod": {"dsn": incident.monitor_dsn, "channels": ["CINC", "CTWO"]},
        "replica": {"dsn": incident.monitor_dsn, "channels": ["CTWO"]},
        "staging": {"dsn": incident.monitor_dsn},
    }


def picker(bot: Bot, channel: str, thread_ts: str) -> Call:
    def find() -> list[Call]:
        return [
            c
            for c in bot.thread(channel, thread_ts)
            if any(b.get("accessory", {}).get("type") == "static_select" for b in c.blocks)
        ]

    return bot.fake.wait_for(find)[0]


def options(call: Call) -> list[str]:
    [select] = [b["accessory"] for b in call.blocks if "accessory" in b]
    return [o["value"] for o in select["options"]]


def choose(bot: Bot, call: Call, value: str, response_url: str) -> None:
    [block] = [b for b in call.blocks if "accessory" in b]
    response = bot.send.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": "UBOB"},
            "api_app_id": "A0001",
            "trigger_id": "t.1",
            "response_url": response_url,
            "channel": {"id": call.body["channel"]},
            "container": {
                "type": "message",
                "message_ts": call.answer["ts"],
                "channel_id": call.body["channel"],
            },
            "message": {"ts": call.answer["ts"], "text": call.body.get("text")},
            "actions": [
                {
                    "type": "static_select",
                    "action_id": PICK_ACTION,
                    "block_id": block["block_id"],
                    "action_ts": "1.2",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": value},
                        "value": value,
                    },
                }
            ],
        }
    )
    assert response.status_code == 200


def test_pasted_fatal_gets_the_triage_in_its_thread(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    ts, response = bot.send.message(f"prod is down:\n```{incident.fatal}```")
    assert response.status_code == 200
    thread = bot.wait_thread("CINC", ts)
    summary = thread[0]
    assert "*prod*" in summary.shown()
    assert incident.role in summary.shown()
    assert "role_limit" in "".join(c.shown() for c in thread)  # what the paste showed
    assert any(v["params"].get("role") == incident.role for v in button_values(thread))
    assert all(c.body["thread_ts"] == ts for c in bot.posts("CINC"))


def test_silence_for_no_signal_bots_itself_and_edits(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    fatal = incident.fatal
    bot.send.message("deploying checkout v42, nothing to see")
    bot.send.message(fatal, user=BOT_USER)  # itself, by user id
    bot.send.message(fatal, bot_id=BOT_ID, subtype="bot_message")  # its own thread replies
    bot.send.message(fatal, bot_id="BOTHER", user="UOTHERBOT")  # another bot
    bot.send.message(fatal, bot_profile={"id": "BOTHER"}, user="UOTHERBOT2")
    bot.send.event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": "CINC",
            "ts": "1.1",
            "message": {"type": "message", "user": "UALICE", "text": fatal, "ts": "1.0"},
        }
    )
    bot.send.message(fatal, subtype="message_deleted")
    bot.control()
    assert bot.posts("CINC") == []


def test_a_retried_event_is_answered_once(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident))
    event = {
        "type": "message",
        "channel": "CINC",
        "user": "UALICE",
        "text": incident.fatal,
        "ts": "1700000000.000100",
    }
    assert bot.send.event(event, event_id="Ev0RETRY").status_code == 200
    for retry in (1, 2):
        assert bot.send.event(event, event_id="Ev0RETRY", retry=retry).status_code == 200
    bot.wait_thread("CINC", event["ts"])
    bot.control()
    summaries = [c for c in bot.posts("CINC") if c.body.get("text", "").startswith("prod:")]
    assert len(summaries) == 1


def test_a_mention_is_answered_once(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident))
    text = f"<@{BOT_USER}> help: {incident.fatal}"
    ts, _ = bot.send.message(text)  # Slack sends the message event and the app_mention
    bot.send.event(
        {"type": "app_mention", "channel": "CINC", "user": "UALICE", "text": text, "ts": ts}
    )
    bot.wait_thread("CINC", ts)
    bot.control()
    summaries = [c for c in bot.thread("CINC", ts) if c.body.get("text", "").startswith("prod:")]
    assert len(summaries) == 1


def test_a_mention_without_signal_gets_a_hint(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident))
    ts = "1700000001.000200"
    bot.send.event(
        {
            "type": "app_mention",
            "channel": "CINC",
            "user": "UALICE",
            "ts": ts,
            "text": f"<@{BOT_USER}> what can you do?",
        }
    )
    [hint] = bot.fake.wait_for(lambda: bot.thread("CINC", ts))
    assert "/pgconn help" in hint.shown()


def test_unbound_channel_asks_which_cluster_and_continues(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    ts, _ = bot.send.message(incident.fatal, channel="CRANDOM")
    question = picker(bot, "CRANDOM", ts)
    assert options(question) == ["staging", NO_CLUSTER]  # prod and replica are bound elsewhere
    assert incident.role in question.shown()

    choose(bot, question, "staging", bot.fake.response_url("pick-1"))
    thread = bot.wait_thread("CRANDOM", ts, 3)
    assert any(c.body.get("text", "").startswith("staging:") for c in thread)
    [update] = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=question.answer["ts"]))
    assert "<@UBOB> chose *staging*" in update.shown()

    # The same question cannot be answered twice.
    choose(bot, question, "staging", bot.fake.response_url("pick-2"))
    [late] = bot.fake.wait_for(lambda: bot.fake.find("response"))
    assert "expired or was already answered" in late.shown()


def test_channel_bound_to_several_clusters_asks_and_can_go_without_one(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    ts, _ = bot.send.message(incident.fatal, channel="CTWO")
    question = picker(bot, "CTWO", ts)
    assert options(question) == ["prod", "replica", "staging", NO_CLUSTER]
    choose(bot, question, NO_CLUSTER, bot.fake.response_url("pick"))
    thread = bot.wait_thread("CTWO", ts, 3)
    assert any(c.body.get("text", "").startswith("your paste:") for c in thread)
    assert button_values(thread) == []  # no cluster, no fix to approve


def test_a_forged_choice_of_a_forbidden_cluster_is_refused(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(clusters(incident))
    ts, _ = bot.send.message(incident.fatal, channel="CRANDOM")
    question = picker(bot, "CRANDOM", ts)
    choose(bot, question, "prod", bot.fake.response_url("forged"))
    [reply] = bot.fake.wait_for(lambda: bot.fake.find("response"))
    assert "may not be used here" in reply.shown()
    assert len(bot.thread("CRANDOM", ts)) == 1  # only the question


def test_no_usable_cluster_answers_from_the_text(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    ts, _ = bot.send.message(incident.fatal, channel="CRANDOM")
    thread = bot.wait_thread("CRANDOM", ts, 3)
    assert "No cluster may be used from this channel" in "".join(c.shown() for c in thread)


def _log_with_fatal(incident: Incident, filler_bytes: int) -> bytes:
    """The server's real log (it recorded the refusal) after lines of unrelated noise."""
    server_log = (incident.cluster.data_dir / "log" / "postgresql").read_bytes()
    assert b"too many connections for role" in server_log
    noise = b"".join(
        b"2024-05-01 03:12:09.123 UTC [42] LOG:  checkpoint "
        + os.urandom(24).hex().encode()
        + b"\n"
        for _ in range(filler_bytes // 100)
    )
    return noise + server_log


def _file_event(url: str, name: str, size: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": "F" + name.upper().replace(".", ""),
        "name": name,
        "size": size,
        "url_private_download": url,
        "mode": "hosted",
        **extra,
    }


def test_an_uploaded_gzip_log_is_downloaded_scanned_with_progress(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(
        clusters(incident), tuning=Tuning(workers=1, progress_after_s=0, progress_every_s=0)
    )
    packed = gzip.compress(_log_with_fatal(incident, 3_000_000))
    url = bot.fake.add_file("postgresql.log.gz", packed, "application/gzip")
    ts, _ = bot.send.message(
        "",
        subtype="file_share",
        files=[_file_event(url, "postgresql.log.gz", len(packed), filetype="gzip")],
    )
    thread = bot.wait_thread("CINC", ts, 3)
    [download] = bot.fake.find("file")
    assert download.headers["authorization"] == f"Bearer {bot.config.slack.bot_token}"
    assert any(incident.role in c.shown() for c in thread)
    progress = [c for c in thread if "Scanning" in c.shown()]
    assert progress, "a progress message is posted"
    updates = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=progress[0].answer["ts"]))
    assert "Scanned postgresql.log.gz" in updates[-1].shown()


def test_a_snippet_is_scanned_like_a_paste(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident))
    text = ("Traceback (most recent call last):\n" * 50 + incident.fatal + "\n").encode()
    url = bot.fake.add_file("snippet", text)
    ts, _ = bot.send.message(
        "the job died",
        subtype="file_share",
        files=[_file_event(url, "Untitled", len(text), mode="snippet", filetype="text")],
    )
    thread = bot.wait_thread("CINC", ts)
    assert incident.role in thread[0].shown()


def test_files_over_the_cap_get_a_clear_message(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident), max_file_bytes=100_000)
    big = _log_with_fatal(incident, 300_000)
    url = bot.fake.add_file("big.log", big)
    ts, _ = bot.send.message(
        "", subtype="file_share", files=[_file_event(url, "big.log", len(big))]
    )
    [refusal] = bot.fake.wait_for(lambda: bot.thread("CINC", ts))
    assert f"big.log is {len(big) / 1e6:.1f} MB; pgconn reads files up to 0.1 MB" in refusal.shown()
    assert "slack.max_file_bytes" in refusal.shown()
    assert bot.fake.find("file") == []  # refused from the size Slack announced

    # A size Slack did not announce is enforced while reading, packed or not.
    bomb = gzip.compress(b"x" * 5_000_000)
    url = bot.fake.add_file("bomb.gz", bomb, "application/gzip")
    ts, _ = bot.send.message(
        "",
        subtype="file_share",
        files=[{"id": "FB", "name": "bomb.gz", "url_private_download": url}],
    )
    [refusal] = bot.fake.wait_for(lambda: bot.thread("CINC", ts))
    assert "bomb.gz is over the cap unpacked" in refusal.shown()


def test_images_are_none_of_its_business(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(clusters(incident))
    url = bot.fake.add_file("cat.png", b"\x89PNG", "image/png")
    bot.send.message(
        "", subtype="file_share", files=[_file_event(url, "cat.png", 4, filetype="png")]
    )
    bot.control()
    assert bot.fake.find("file") == []
    assert bot.posts("CINC") == []


def test_bindings_by_channel_name_are_resolved(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot(
        {
            "prod": {"dsn": incident.monitor_dsn, "channels": ["#db-incidents"]},
            "staging": {"dsn": incident.monitor_dsn},
        }
    )
    bot.fake.channel_names["CNAMED"] = "db-incidents"
    ts, _ = bot.send.message(incident.fatal, channel="CNAMED")
    thread = bot.wait_thread("CNAMED", ts)
    assert thread[0].body["text"].startswith("prod:")
    assert bot.fake.find("conversations.info", channel="CNAMED")
