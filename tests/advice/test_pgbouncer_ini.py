"""The pgbouncer.ini fragment: computed from the server's numbers, and PgBouncer accepts it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.playbooks import load_playbooks
from bot.service import analyse
from tests import bouncer, pg
from tests.factories import said

MAX, RESERVED, LIMIT = 20, 3, 5


@pytest.fixture(scope="module")
def server() -> Iterator[throwaway.ThrowawayCluster]:
    s = pg.start(15, {"max_connections": str(MAX), "superuser_reserved_connections": str(RESERVED)})
    yield s
    s.destroy()


def test_the_fragment_fits_the_slots_and_pgbouncer_runs_with_it(
    server: throwaway.ThrowawayCluster,
) -> None:
    role = pg.unique("shop")
    pw = pg.create_role(server, role, limit=LIMIT)
    with pg.holding(server) as holder:
        holder.open(LIMIT, role, pw)
        fatal = holder.refused(role, pw)
        report = analyse(signals.scan(fatal), ClusterConfig("s", server.dsn()), load_playbooks())

    [line] = [e for f in report.findings for e in said(f) if e.startswith("A PgBouncer")]
    # Ordinary slots: 20 − 3 reserved − pgconn's own = 16; 80 % of them = 12 for 1 pair.
    assert "from the 1 role/database pair(s) and 16 ordinary slots now" in line
    settings = dict(re.findall(r"(\w+) = (\w+)", line.split("[users]")[0]))
    assert settings == {
        "pool_mode": "transaction",
        "default_pool_size": "10",
        "reserve_pool_size": "2",
        "max_client_conn": "100",
        "max_db_connections": "12",
    }
    assert f"{role} = max_user_connections={LIMIT}" in line
    assert "SET LOCAL" in line and "max_prepared_statements" in line

    with bouncer.running(server, [role], settings) as b:
        shown = {r["key"]: str(r["value"]) for r in b.console("SHOW CONFIG")}
    assert {k: shown[k] for k in settings} == settings
