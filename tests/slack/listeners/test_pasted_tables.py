"""A pg_stat_activity table pasted in a channel is triaged from the paste: no cluster needed."""

from __future__ import annotations

from tests.pasted.psql import activity, psql
from tests.slack.conftest import Incident, StartBot, button_values


def test_pasted_table_with_the_error_is_triaged_from_the_paste(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    table = activity(incident.cluster, "aligned")
    shown = psql(incident.cluster, sql="SHOW max_connections")
    ts, _ = bot.send.message(f"{incident.fatal}\n```{table}\n{shown}```", channel="CRANDOM")
    thread = bot.wait_thread("CRANDOM", ts, 3)  # the card and both parts of the thread
    text = "".join(c.shown() for c in thread)
    assert "*your paste*" in thread[0].shown() and "From your paste, as of" in thread[0].shown()
    assert f"{incident.role} is at its connection limit (2/2)" in text
    assert "max_connections 100 is from the paste" in text
    assert not button_values(thread), "nothing in a paste may be acted on"


def test_a_table_alone_is_answered(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    ts, _ = bot.send.message(activity(incident.cluster, "csv"), channel="CRANDOM")
    # However many parts the thread has, the notes arrive in one of them.
    thread = bot.fake.wait_for(
        lambda: (
            (t := bot.thread("CRANDOM", ts))
            and "From the paste (csv pg_stat_activity" in "".join(c.shown() for c in t)
            and t
        )
    )
    text = "".join(c.shown() for c in thread)
    assert "PostgreSQL's default, 100, is assumed" in text
