from __future__ import annotations

from bot.observability.metrics import REGISTRY
from tests import pg


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_round_sets_usage_gauges_and_counts_posts_and_failures(cluster, holder, world):
    role = pg.unique("metered")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password)
    posted = _value("pgconn_warnings_posted_total", cluster="main", level="critical")
    w = world({"main": cluster.dsn()})
    w.round()
    assert _value("pgconn_connections_used", cluster="main", scope="role", entity=role) == 2
    assert _value("pgconn_connections_limit", cluster="main", scope="role", entity=role) == 2
    assert _value("pgconn_warnings_posted_total", cluster="main", level="critical") == posted + 1

    failures = _value("pgconn_probe_failures_total", cluster="down")
    down = world({"down": "host=127.0.0.1 port=9 user=x connect_timeout=1"})
    down.round()
    assert _value("pgconn_probe_failures_total", cluster="down") == failures + 1
