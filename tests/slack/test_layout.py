"""The Slack answer, scenario by scenario, through the bot's real endpoint and the fake Slack,
on real incidents: role full, database full, server full, a paste, a Java trace with a pool
timeout, an approval request and its result, a repeat paste (also across two replicas).

Each scenario checks what an on-call engineer needs: the root message is an incident card with
the primary fix as a button and at most 700 characters; in the thread the first fix button comes
after at most 1,200 characters; every button is named for what it does; nothing shows a
placeholder, a kind identifier or a "(s)" plural. Each scenario's payloads are kept as a
readable snapshot under `tests/slack/snapshots/`, compared by structure (volatile values
normalised); `PGCONN_UPDATE_SNAPSHOTS=1` rewrites them, `PGCONN_PREVIEW_DIR=dir` also writes
the raw captures for `slack-preview`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bot import throwaway
from bot.render.approval_blocks import APPROVE_ACTION, SHOW_SQL_ACTION
from bot.render.blocks import ACTION_PREFIX
from bot.signals.model import SignalKind
from bot.slack.context import Tuning
from bot.triage import FindingCode, Thresholds
from tests import pg
from tests.slack.conftest import Bot, StartBot
from tests.slack.fake import Call, FakeSlack

SNAPSHOTS = Path(__file__).parent / "snapshots"
MONITOR, MONITOR_PW = "pgconn_monitor", "Monitor-Pw-5521"
ADMIN, ADMIN_PW = "pgconn_admin", "Admin-Pw-7730"
APP_PW = "App-Pw-1188"
APPROVER = "U0DBA"
# Sessions count as stuck at once, so fixes are proposed without waiting minutes.
NOW = Tuning(workers=1, thresholds=Thresholds(idle_min_age_s=0, idle_tx_min_age_s=0))

HIKARI_TRACE = (
    "checkout-7d9f ERROR o.h.e.j.s.SqlExceptionHelper - HikariPool-1 - Connection is not "
    "available, request timed out after 30004ms (total=10, active=10, idle=0, waiting=42)\n"
    "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
    "request timed out after 30004ms (total=10, active=10, idle=0, waiting=42)\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)\n"
    "\tat com.example.checkout.OrderRepository.save(OrderRepository.java:88)\n"
)

# Kind identifiers people must not read (max_connections is also a setting's name: allowed).
_IDENTIFIERS = sorted(
    ({k.value for k in SignalKind} | {c.value for c in FindingCode}) - {"max_connections"}
)
_IDENTIFIER = re.compile(r"\b(" + "|".join(_IDENTIFIERS) + r")\b")
_PLACEHOLDER = re.compile(r"&lt;[a-z][a-z _-]*(:[^&]*)?&gt;|<[a-z][a-z _-]*(: [^>]*)?>")
_FIX_VERBS = ("Terminate ", "Cancel ", "Raise ", "Time out ", "Set ")


# -- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[throwaway.ThrowawayCluster]:
    """One server with fixed names, so the snapshots read like a real incident."""
    s = pg.start(15)
    pg.create_role(s, MONITOR, password=MONITOR_PW, extra="IN ROLE pg_monitor")
    pg.create_role(s, ADMIN, password=ADMIN_PW, extra="SUPERUSER")
    pg.create_role(s, "app_user", limit=5, password=APP_PW)
    pg.create_role(s, "reporter", password=APP_PW)
    pg.create_database(s, "appdb", limit=3)
    with pg.admin(s) as conn:
        conn.execute("CREATE DATABASE pgconn_state")
    yield s
    s.destroy()


@pytest.fixture(scope="module")
def small() -> Iterator[throwaway.ThrowawayCluster]:
    """A server with 7 ordinary slots, to fill."""
    s = pg.start(15, {"max_connections": "10", "superuser_reserved_connections": "3"})
    pg.create_role(s, "web", password=APP_PW)
    yield s
    s.destroy()


def _prod(server: throwaway.ThrowawayCluster, **extra: Any) -> dict[str, Any]:
    return {
        "prod": {
            "dsn": server.dsn(user=MONITOR, password=MONITOR_PW),
            "admin_dsn": server.dsn(user=ADMIN, password=ADMIN_PW),
            "channels": ["C0INCIDENT"],
            "approvers": [APPROVER],
            **extra,
        }
    }


def _role_full(holder: pg.Holder) -> str:
    """app_user at its limit: 3 sessions of checkout idle in transaction, 2 idle; the FATAL."""
    holder.open(3, "app_user", APP_PW, app="checkout", idle_in_transaction=True)
    holder.open(2, "app_user", APP_PW, app="checkout")
    return holder.refused("app_user", APP_PW)


# -- what people read ----------------------------------------------------------------------------


def _texts(value: Any) -> Iterator[str]:
    """Every string a person reads in a payload (not ids, values or URLs)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in ("value", "action_id", "block_id", "type", "style", "url"):
                yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)
    elif isinstance(value, str):
        yield value


def _shown(call: Call) -> list[str]:
    return [*_texts(call.body.get("text", "")), *_texts(call.blocks)]


def _block_text(block: dict[str, Any]) -> int:
    """Characters a block shows, buttons left out."""
    keep = {k: v for k, v in block.items() if k not in ("accessory", "elements")}
    if block.get("type") == "context":
        keep["elements"] = block["elements"]
    return sum(len(t) for t in _texts(keep))


def _buttons(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = [block["accessory"]] if block.get("accessory", {}).get("type") == "button" else []
    if block.get("type") == "actions":
        found += [e for e in block["elements"] if e.get("type") == "button"]
    return found


def _fix_buttons(call: Call) -> list[dict[str, Any]]:
    return [
        b for blk in call.blocks for b in _buttons(blk) if b["action_id"].startswith(ACTION_PREFIX)
    ]


def check_readable(calls: list[Call]) -> None:
    """No placeholder, kind identifier or "(s)" plural anywhere; every button says what it
    does."""
    for call in calls:
        for text in _shown(call):
            assert not _PLACEHOLDER.search(text), text
            assert not _IDENTIFIER.search(text), text
            assert "(s)" not in text, text
        for block in call.blocks:
            for button in _buttons(block):
                label = button["text"]["text"]
                if button["action_id"].startswith(ACTION_PREFIX):
                    assert label.startswith(_FIX_VERBS) and len(label.split()) >= 3, label
                else:
                    assert label != "Request approval", label


def check_card_and_thread(bot: Bot, card: Call, *, fix: bool = True) -> list[Call]:
    """The card: at most 700 characters, the primary fix when there is one. The thread: the
    first fix button after at most 1,200 characters. The thread's messages."""
    assert sum(len(t) for t in _shown(card)) <= 700, _shown(card)
    assert bool(_fix_buttons(card)) is fix
    root = card.body.get("thread_ts") or card.answer["ts"]
    thread = [c for c in bot.thread(card.body["channel"], root) if c is not card]
    before = 0
    found = False
    for call in thread:
        for block in call.blocks:
            if any(b["action_id"].startswith(ACTION_PREFIX) for b in _buttons(block)):
                found = True
                break
            before += _block_text(block)
        if found:
            break
    assert found is fix
    if fix:
        assert before <= 1200, before
        first = _fix_buttons(thread[0])[0]["text"]["text"]
        assert first == _fix_buttons(card)[0]["text"]["text"]
    check_readable([card, *thread])
    return thread


# -- snapshots -----------------------------------------------------------------------------------


_VOLATILE = [
    (re.compile(r"http://127\.0\.0\.1:\d+"), "http://127.0.0.1:PORT"),
    (re.compile(r"\b\d{1,2}:\d{2}(:\d{2})? UTC\b"), "HH:MM UTC"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2} HH:MM UTC"), "DATE HH:MM UTC"),
    (re.compile(r"\b\d+(\.\d+)? (s|min|h)\b"), "N \\2"),
    (re.compile(r"\bpid \d+"), "pid N"),
    (re.compile(r"\((\d{3,}, )*\d{3,}\)"), "(PIDS)"),
    (re.compile(r"`[A-Za-z0-9_-]{8,}`"), "`REQUEST`"),
    (re.compile(r"/p\d{16}"), "/pTS"),
    (re.compile(r"\b\d+\.\d+\.\d+\.\d+\b"), "ADDR"),
    (re.compile(r"\bport \d+\b"), "port PORT"),
]


def _normalise(value: Any, ts: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("ts", "thread_ts", "message_ts") and isinstance(v, str):
                out[k] = ts.setdefault(v, f"TS{len(ts) + 1}")
            elif k == "value" and isinstance(v, str):
                out[k] = "VALUE"
            elif k == "block_id" and isinstance(v, str):
                out[k] = v.split(":")[0]
            else:
                out[k] = _normalise(v, ts)
        return out
    if isinstance(value, list):
        return [_normalise(v, ts) for v in value]
    if isinstance(value, str):
        for pattern, repl in _VOLATILE:
            value = pattern.sub(repl, value)
        return value
    return value


def capture(fake: FakeSlack) -> list[dict[str, Any]]:
    """The fake's recorded posts, in the form `slack-preview` reads."""
    out = []
    for c in fake.calls:
        if c.method not in ("chat.postMessage", "chat.update", "response"):
            continue
        if c.body.get("channel") == "CCTRL":  # the tests' own "is the bot done?" question
            continue
        args = {k: c.body.get(k) for k in ("channel", "text", "thread_ts", "ts") if c.body.get(k)}
        args["blocks"] = c.blocks
        if c.method == "response":
            args["response_type"] = c.body.get("response_type")
            args["channel"] = "C0INCIDENT"
        out.append({"method": c.method, "args": args, "ts": c.answer.get("ts", "")})
    return out


def _skeleton(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the comparison holds to: each message's method, place, block types and button
    labels (digits as N, so numbers may move)."""
    roots: dict[str, int] = {}
    out = []
    for i, m in enumerate(messages):
        a = m["args"]
        roots.setdefault(m.get("ts") or f"#{i}", i)
        where = "thread" if a.get("thread_ts") else m["method"]
        labels = [
            re.sub(r"\d+", "N", b["text"]["text"]) for blk in a["blocks"] for b in _buttons(blk)
        ]
        out.append({"where": where, "blocks": [b["type"] for b in a["blocks"]], "buttons": labels})
    return out


def check_snapshot(name: str, fake: FakeSlack) -> None:
    raw = capture(fake)
    preview = os.environ.get("PGCONN_PREVIEW_DIR")
    if preview:
        Path(preview).mkdir(parents=True, exist_ok=True)
        (Path(preview) / f"{name}.json").write_text(json.dumps(raw, indent=1, ensure_ascii=False))
    got = _normalise(raw, {})
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("PGCONN_UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    kept = json.loads(path.read_text())
    assert _skeleton(got) == _skeleton(kept)


# -- helpers -------------------------------------------------------------------------------------


def _click(bot: Bot, user: str, button: dict[str, Any], message: Call, name: str) -> None:
    thread_ts = message.body.get("thread_ts") or message.answer["ts"]
    reply = bot.send.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0001",
            "trigger_id": "t.1",
            "response_url": bot.fake.response_url(name),
            "channel": {"id": message.body["channel"]},
            "container": {
                "type": "message",
                "message_ts": message.answer["ts"],
                "channel_id": message.body["channel"],
                "thread_ts": thread_ts,
            },
            "message": {"ts": message.answer["ts"], "thread_ts": thread_ts},
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "b",
                    "value": button["value"],
                    "action_ts": "1.2",
                }
            ],
        }
    )
    assert reply.status_code == 200


def _command_report(bot: Bot, text: str = "prod") -> tuple[Call, list[Call]]:
    seen = len(bot.posts("C0INCIDENT"))
    bot.send.command(text, channel="C0INCIDENT", response_url=bot.fake.response_url("cmd"))
    card = bot.fake.wait_for(
        lambda: [
            c
            for c in bot.posts("C0INCIDENT")[seen:]
            if "thread_ts" not in c.body and bot.thread("C0INCIDENT", c.answer["ts"])
        ]
    )[0]
    bot.control()
    return card, bot.thread("C0INCIDENT", card.answer["ts"])


def _paste_report(bot: Bot, text: str) -> list[Call]:
    ts, response = bot.send.message(text, channel="C0INCIDENT")
    assert response.status_code == 200
    bot.wait_thread("C0INCIDENT", ts, 1)
    bot.control()
    return bot.thread("C0INCIDENT", ts)


# -- scenarios -----------------------------------------------------------------------------------


def test_role_full(start_bot: StartBot, server: throwaway.ThrowawayCluster) -> None:
    with pg.holding(server) as holder:
        _role_full(holder)
        bot = start_bot(_prod(server), tuning=NOW)
        card, thread = _command_report(bot)
    check_card_and_thread(bot, card)
    shown = " ".join(_shown(card))
    assert "app_user" in shown and "5 / 5" in shown
    assert "checkout" in shown  # who holds it
    assert "PostgreSQL 15." not in shown  # no build string
    labels = [b["text"]["text"] for b in _fix_buttons(thread[0])]
    assert labels[0].startswith("Terminate 3 idle-in-transaction sessions of checkout"), labels
    assert any(label.startswith("Raise app_user's limit 5 → ") for label in labels), labels
    # Prevent once, after the evidence.
    text = " ".join(t for c in thread for t in _shown(c))
    assert text.count("*Prevent*") == 1
    assert text.index("*Prevent*") > text.index("*Do now*")
    check_snapshot("role_full", bot.fake)


def test_database_full(start_bot: StartBot, server: throwaway.ThrowawayCluster) -> None:
    with pg.holding(server) as holder:
        holder.open(3, "reporter", APP_PW, dbname="appdb", app="reports")
        holder.refused("reporter", APP_PW, dbname="appdb")
        bot = start_bot(_prod(server), tuning=NOW)
        card, _ = _command_report(bot)
    check_card_and_thread(bot, card)
    shown = " ".join(_shown(card))
    assert "database appdb · 3 / 3" in shown
    assert "reports" in shown
    check_snapshot("database_full", bot.fake)


def test_server_full(start_bot: StartBot, small: throwaway.ThrowawayCluster) -> None:
    clusters = {
        "prod": {
            "dsn": small.dsn(),
            "admin_dsn": small.dsn(),
            "channels": ["C0INCIDENT"],
            "approvers": [APPROVER],
        }
    }
    with pg.holding(small) as holder:
        holder.open(7, "web", APP_PW, app="api")
        holder.refused("web", APP_PW)
        bot = start_bot(clusters, tuning=NOW)
        card, _ = _command_report(bot)
    check_card_and_thread(bot, card)
    shown = " ".join(_shown(card))
    assert "the server · 7 / 7" in shown, shown
    assert "Terminate 7 idle sessions of api" in shown
    assert "api" in shown
    check_snapshot("server_full", bot.fake)


def test_paste(start_bot: StartBot, server: throwaway.ThrowawayCluster) -> None:
    with pg.holding(server) as holder:
        fatal = _role_full(holder)
        bot = start_bot(_prod(server), tuning=NOW)
        thread = _paste_report(bot, f"checkout is failing:\n```{fatal}```")
    card = thread[0]
    check_card_and_thread(bot, card)
    text = " ".join(t for c in thread for t in _shown(c))
    assert 'too many connections for role "app_user"' in text
    assert "line 2" in text
    check_snapshot("paste", bot.fake)


def test_java_trace_with_a_pool_timeout(
    start_bot: StartBot, server: throwaway.ThrowawayCluster
) -> None:
    with pg.holding(server) as holder:
        _role_full(holder)
        bot = start_bot(_prod(server), tuning=NOW)
        thread = _paste_report(bot, HIKARI_TRACE)
    card = thread[0]
    check_card_and_thread(bot, card)
    text = " ".join(t for c in thread for t in _shown(c))
    assert "HikariPool-1 - Connection is not available" in text
    assert "hikaricp, line 1" in text
    check_snapshot("java_pool_timeout", bot.fake)


def test_approval_request_and_result(
    start_bot: StartBot, server: throwaway.ThrowawayCluster, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # the approvals' state store
    with pg.holding(server) as holder:
        _role_full(holder)
        bot = start_bot(_prod(server), tuning=NOW)
        card, _ = _command_report(bot)
        [fix] = _fix_buttons(card)
        _click(bot, "U0ONCALL", fix, card, "request")
        request = bot.fake.wait_for(
            lambda: [c for c in bot.posts("C0INCIDENT") if "Approval needed" in c.body["text"]]
        )[0]
        blocks = request.blocks
        kinds = [b["type"] for b in blocks]
        # Action, blast radius, targets, then the buttons, before any statement.
        actions = kinds.index("actions")
        assert actions <= 3, kinds
        [approve, reject, show] = blocks[actions]["elements"]
        assert approve["text"]["text"] == "Approve" and approve["style"] == "primary"
        assert reject["text"]["text"] == "Reject" and "style" not in reject
        assert approve["confirm"]["text"]["text"] == "Terminate 3 sessions of app_user on prod?"
        shown = " ".join(_shown(request))
        assert "checkout" in shown and "3 sessions" in shown
        assert "pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (" in shown
        assert "NULL::text IS NULL" not in shown  # the guarded form only on demand
        _click(bot, "U0ONCALL", show, request, "sql")
        [guarded] = bot.fake.wait_for(
            lambda: [c for c in bot.fake.find("response") if c.path.endswith("/sql")]
        )
        assert guarded.body["response_type"] == "ephemeral"
        assert "backend_start" in " ".join(_shown(guarded))

        _click(bot, APPROVER, approve, request, "approve")
        [update] = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=card.answer["ts"]))
        bot.control()
    shown = " ".join(_shown(update))
    assert ":white_check_mark:" in shown
    assert "5 / 5 → 2 / 5" in shown, shown
    assert "fake.slack.test/archives/C0INCIDENT/p" in shown  # links the result
    assert f"<@{APPROVER}>" in shown
    assert not _fix_buttons(update)
    check_readable(bot.fake.find("chat.postMessage", channel="C0INCIDENT"))
    check_readable(bot.fake.find("chat.update"))
    check_snapshot("approval", bot.fake)
    assert approve["action_id"] == APPROVE_ACTION and show["action_id"] == SHOW_SQL_ACTION


def test_repeat_paste(start_bot: StartBot, server: throwaway.ThrowawayCluster) -> None:
    with pg.holding(server) as holder:
        fatal = _role_full(holder)
        bot = start_bot(_prod(server), tuning=NOW)
        first = _paste_report(bot, f"```{fatal}```")
        card = first[0]
        again = _paste_report(bot, f"still failing: ```{fatal}```")
        repeat = _paste_report(bot, HIKARI_TRACE)
        full_again, _ = _command_report(bot, "prod fresh")
    [short] = again
    text = " ".join(_shown(short))
    assert "was reported" in text and "p" + card.answer["ts"].replace(".", "") in text
    assert "Nothing new" in text
    assert not _fix_buttons(short)
    assert sum(len(t) for t in _shown(short)) <= 400
    [short2] = repeat
    text2 = " ".join(_shown(short2))
    assert "New in your paste: `" in text2 and "HikariPool-1" in text2
    check_card_and_thread(bot, full_again)  # `fresh`: a full report
    check_readable(bot.fake.find("chat.postMessage", channel="C0INCIDENT"))
    check_snapshot("repeat_paste", bot.fake)


def test_repeat_across_replicas(start_bot: StartBot, server: throwaway.ThrowawayCluster) -> None:
    """Two replicas share the state store: the second links the first one's thread."""
    state = {"state_dsn": server.dsn(dbname="pgconn_state")}
    with pg.holding(server) as holder:
        fatal = _role_full(holder)
        a = start_bot(_prod(server), tuning=NOW, top=state)
        b = start_bot(_prod(server), tuning=NOW, top=state)
        first = _paste_report(a, f"```{fatal}```")
        b.send._ids = itertools.count(5000)  # its own event ids and ts: replicas share de-dup
        ts, _ = b.send.message(f"```{fatal}```", channel="C0INCIDENT")
        b.wait_thread("C0INCIDENT", ts, 1)
        b.control()
        [short] = b.thread("C0INCIDENT", ts)
    assert "was reported" in " ".join(_shown(short))
    assert "p" + first[0].answer["ts"].replace(".", "") in " ".join(_shown(short))


def test_a_later_diagnosis_with_room_closes_the_card(
    start_bot: StartBot, server: throwaway.ThrowawayCluster
) -> None:
    with pg.holding(server) as holder:
        _role_full(holder)
        bot = start_bot(_prod(server), tuning=NOW)
        card, _ = _command_report(bot)
    # The sessions are gone (the application restarted): the next report closes the card.
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = {}"
            ).format(sql.Literal("app_user"))
        )
    bot.send.command("prod fresh", channel="C0INCIDENT")
    [update] = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=card.answer["ts"]))
    shown = " ".join(_shown(update))
    assert ":white_check_mark:" in shown and "5 / 5 → 0 / 5" in shown, shown
    assert "fake.slack.test/archives/C0INCIDENT/p" in shown  # links the new report


def test_a_repeated_command_answers_only_the_asker(
    start_bot: StartBot, server: throwaway.ThrowawayCluster
) -> None:
    with pg.holding(server) as holder:
        _role_full(holder)
        bot = start_bot(_prod(server), tuning=NOW)
        card, _ = _command_report(bot)
        posted = len(bot.posts("C0INCIDENT"))
        bot.send.command("prod", channel="C0INCIDENT", response_url=bot.fake.response_url("again"))
        [reply] = bot.fake.wait_for(
            lambda: [c for c in bot.fake.find("response") if c.path.endswith("/again")]
        )
        bot.control()
    assert reply.body["response_type"] == "ephemeral"
    text = " ".join(_shown(reply))
    assert "p" + card.answer["ts"].replace(".", "") in text and "fresh" in text
    assert len(bot.posts("C0INCIDENT")) == posted  # no second report in the channel
