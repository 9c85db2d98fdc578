"""The server's message inside drivers' printed errors, where no severity label precedes it.

The ErrorResponse is a real one: a role really at its CONNECTION LIMIT on a throwaway server,
its fields read from the refused connection; each driver's layout comes from its own source
(`driver_shapes`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot import throwaway
from bot.signals import Signal, SignalKind, scan
from tests import pg

from . import driver_shapes as ds
from .driver_shapes import Fields
from .wire import refusal_fields

K = SignalKind


@pytest.fixture(scope="module")
def refusal(server15: throwaway.ThrowawayCluster) -> tuple[Fields, str]:
    """The fields of a real 53300 refusal (too many connections for role), as the server sent
    them over the wire, and the role."""
    role = pg.unique("drv")
    password = pg.create_role(server15, role, limit=1)
    with pg.holding(server15) as holder:
        holder.open(1, role, password)
        got = refusal_fields("127.0.0.1", server15.port, role, password, "postgres")
    assert got["C"] == "53300"
    return (
        Fields(got["S"], got["V"], got["C"], got["M"], got["F"], got["L"], got["R"]),
        role,
    )


SHAPES: list[tuple[str, Callable[[Fields], str], str]] = [
    ("node-postgres util.inspect", ds.node_inspect, "node-postgres"),
    ("postgres.js util.inspect", ds.postgres_js_inspect, "postgres.js"),
    ("postgres.js minified class", lambda f: ds.postgres_js_inspect(f, "Ae"), "postgres.js"),
    ("Npgsql", ds.npgsql, "npgsql"),
    ("Postgrex message", lambda f: ds.postgrex_message(f, "too_many_connections"), "postgrex"),
    ("Postgrex struct", lambda f: ds.postgrex_struct(f, "too_many_connections"), "postgrex"),
    ("epgsql tuple", lambda f: ds.epgsql(f, "too_many_connections"), "epgsql"),
    ("R2DBC field map", ds.r2dbc_map, "r2dbc"),
    ("R2DBC field list", ds.r2dbc_fields, "r2dbc"),
    ("tokio-postgres Debug", ds.tokio_debug, "tokio-postgres"),
    ("raw ErrorResponse bytes", ds.raw_error_response, "tokio-postgres"),
    ("FATAL 53300 without colons", ds.bare_fatal_code, "text"),
]


@pytest.mark.parametrize(("shape", "source"), [pytest.param(b, s, id=i) for i, b, s in SHAPES])
def test_driver_shape_of_a_real_refusal(
    refusal: tuple[Fields, str], shape: Callable[[Fields], str], source: str
) -> None:
    fields, role = refusal
    (s,) = scan(shape(fields))
    assert (s.kind, s.role, s.sqlstate, s.source, s.count) == (
        K.ROLE_LIMIT,
        role,
        "53300",
        source,
        1,
    )


MAX = Fields("FATAL", "FATAL", "53300", "sorry, too many clients already", "proc.c", "359", "X")
STARTING = Fields(
    "FATAL", "FATAL", "57P03", "the database system is starting up", "postmaster.c", "1", "Y"
)


def _one(text: str) -> Signal:
    (s,) = scan(text)
    return s


@pytest.mark.parametrize(("shape", "source"), [pytest.param(b, s, id=i) for i, b, s in SHAPES])
def test_driver_shapes_carry_the_state_they_print(
    shape: Callable[[Fields], str], source: str
) -> None:
    s = _one(shape(MAX))
    assert (s.kind, s.sqlstate, s.source) == (K.MAX_CONNECTIONS, "53300", source)
    s = _one(shape(STARTING))
    assert (s.kind, s.detail, s.sqlstate) == (K.SERVER_NOT_READY, "starting up", "57P03")


def test_a_struct_message_field_without_severity_or_state_is_not_a_report() -> None:
    # `message: "..."` alone could be anything an application logs.
    assert scan('%{message: "sorry, too many clients already", user: "bob"}') == []
    assert scan('{reason,<<"sorry, too many clients already">>}') == []


def test_pgpool_relays_the_main_backends_refusal() -> None:
    s = _one(ds.pgpool_relay("sorry, too many clients already"))
    assert (s.kind, s.source, s.pooler, s.sqlstate) == (
        K.MAX_CONNECTIONS,
        "pgpool",
        "pgpool",
        "53300",
    )
    s = _one(ds.pgpool_relay('too many connections for role "app"'))
    assert (s.kind, s.role, s.pooler) == (K.ROLE_LIMIT, "app", "pgpool")
