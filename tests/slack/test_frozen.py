"""A frozen server (its processes stopped with SIGSTOP: TCP is accepted, nothing answers) is
reported within the deadline and holds up nothing else: other clusters, pastes, readiness."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.diagnostics.keeper import Keepers
from bot.service import analyse
from bot.slack.context import Tuning
from bot.throwaway import ThrowawayCluster
from tests import pg
from tests.slack.conftest import StartBot, playbooks

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def icy() -> Iterator[tuple[ThrowawayCluster, ThrowawayCluster]]:
    """Two throwaway servers of our own to freeze (never the shared ones)."""
    a, b = pg.start(15), pg.start(15)
    try:
        yield a, b
    finally:
        a.destroy()
        b.destroy()


def test_frozen_clusters_are_reported_and_hold_nothing_else_up(
    start_bot: StartBot, icy: tuple[ThrowawayCluster, ThrowawayCluster], server15: ThrowawayCluster
) -> None:
    a, b = icy
    bot = start_bot(
        {
            "icy_a": {"dsn": a.dsn(), "channels": ["CA"]},
            "icy_b": {"dsn": b.dsn(), "channels": ["CB"]},
            "live": {"dsn": server15.dsn(), "channels": ["CLIVE"]},
        },
        tuning=Tuning(workers=2, stuck_after_s=1.0),
    )
    # icy_a has its kept connection open (the query hangs); icy_b is connected anew each time.
    keeper = bot.ctx.keepers.postgres(bot.config.cluster("icy_a"))
    assert keeper.warm()
    with pg.frozen(a, b):
        bot.send.command("icy_a", channel="CA")
        bot.send.command("icy_b", channel="CB")
        bot.send.command("icy_a", channel="CA")  # a second request: answered, not queued
        bot.send.command("live", channel="CLIVE")
        ts, _ = bot.send.message(
            "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER "
            "attribute",
            channel="CPASTE",
        )
        live = bot.fake.wait_for(lambda: bot.posts("CLIVE"), timeout=30)
        paste = bot.fake.wait_for(lambda: bot.thread("CPASTE", ts), timeout=30)
        # Both answered while the frozen clusters were still being waited for.
        assert not bot.posts("CA") and not bot.posts("CB")
        # Readiness sees the jobs stuck on them (stuck_after_s is 1 s here).
        bot.fake.wait_for(lambda: not bot.ctx.workers_healthy(), timeout=10)
        assert not bot.posts("CA")
        for channel, name in (("CA", "icy_a"), ("CB", "icy_b")):
            # The thread's note says why there are no live numbers.
            bot.fake.wait_for(
                lambda c=channel, n=name: any(
                    f"{n} did not answer within 6 s" in p.shown() for p in bot.posts(c)
                ),
                timeout=30,
            )
        # The second request for icy_a gets the same answer, not another wait of its own.
        posts = bot.fake.wait_for(lambda: len(bot.posts("CA")) >= 4 and bot.posts("CA"), timeout=30)
        assert " ".join(p.shown() for p in posts).count("icy_a did not answer within 6 s") >= 2
        bot.fake.wait_for(bot.ctx.workers_healthy, timeout=10)
    assert live and paste
    calls = bot.fake.calls
    first_frozen = min(i for i, c in enumerate(calls) if c.body.get("channel") in ("CA", "CB"))
    assert calls.index(live[0]) < first_frozen
    assert "did not answer" in (keeper.state().last_error or "")


def test_a_frozen_cluster_in_the_cli_path_is_reported_within_the_deadline(
    icy: tuple[ThrowawayCluster, ThrowawayCluster],
) -> None:
    from bot.config import parse

    a, _ = icy
    config = parse({"clusters": {"icy": {"dsn": a.dsn()}}}, env={})
    keepers = Keepers()
    try:
        assert keepers.postgres(config.cluster("icy")).warm()
        with pg.frozen(a):
            report = analyse([], config.cluster("icy"), playbooks(), keepers=keepers)
            again = analyse([], config.cluster("icy"), playbooks(), keepers=keepers)
    finally:
        keepers.close()
    assert report.snapshot is None
    assert any("icy did not answer within 6 s" in n for n in report.notes), report.notes
    # Asked again while the hold lasts: the same answer at once, not another wait.
    assert any("did not answer within" in n for n in again.notes), again.notes
