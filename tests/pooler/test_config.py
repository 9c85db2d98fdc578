"""`clusters.<name>.pgbouncer_dsn`: validated like the other DSNs, its password kept secret."""

from __future__ import annotations

import pytest

from bot.config import parse
from bot.errors import ConfigError


def _doc(pooler: object) -> dict[str, object]:
    return {"clusters": {"prod": {"dsn": "host=db user=mon", "pgbouncer_dsn": pooler}}}


def test_the_console_dsn_is_read_and_its_password_is_a_secret():
    config = parse(_doc("host=bouncer port=6432 dbname=pgbouncer user=stats password=p00ler-pw"))
    assert config.cluster("prod").pgbouncer_dsn == (
        "host=bouncer port=6432 dbname=pgbouncer user=stats password=p00ler-pw"
    )
    assert "p00ler-pw" in config.secrets()
    # Optional; and dbname may be left out (libpq would then use the user name, so pgconn
    # connects to dbname=pgbouncer itself).
    assert parse(_doc(None)).cluster("prod").pgbouncer_dsn is None
    assert parse(_doc("host=bouncer user=stats")).cluster("prod").pgbouncer_dsn


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "host=bouncer dbname=appdb user=stats password=p00ler-pw",
            "clusters.prod.pgbouncer_dsn: must name PgBouncer's admin console: dbname=pgbouncer",
        ),
        (
            "host='unterminated password=p00ler-pw",
            "clusters.prod.pgbouncer_dsn: is not a valid libpq connection string",
        ),
        ("", "clusters.prod.pgbouncer_dsn: must be a non-empty string"),
    ],
)
def test_a_bad_console_dsn_is_reported_with_its_path(value, problem):
    with pytest.raises(ConfigError) as exc:
        parse(_doc(value))
    assert any(p.startswith(problem) for p in exc.value.problems), exc.value.problems
    assert "p00ler-pw" not in str(exc.value)
