"""Real incidents to fix: a role at its CONNECTION LIMIT with leaked idle sessions, an admin
role like the one docs/remediation.md asks for, and a Remediation over a real state store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.config import Config, parse
from bot.remediation import Remediation
from bot.store import Store, open_store
from bot.throwaway import ThrowawayCluster
from bot.triage.model import ActionKind, ProposedAction
from tests import pg

ADMIN_PASSWORD = "Admin-Pw-5531-remediation"
REQUESTER, APPROVER, OTHER = "UREQ", "UAPPROVER", "UOTHER"


class Clock:
    """Epoch seconds that tests move forward."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Leak:
    """A role at its limit, held by idle sessions that a leaking application opened."""

    cluster: ThrowawayCluster
    role: str
    password: str
    pids: list[int]
    holder: pg.Holder

    def alive(self, pids: list[int] | None = None) -> set[int]:
        """Which of these pids are client backends now (seen by the superuser)."""
        with pg.admin(self.cluster) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)",
                [pids if pids is not None else self.pids],
            ).fetchall()
        return {r[0] for r in rows}

    def can_connect(self) -> bool:
        try:
            psycopg.connect(self.cluster.dsn(user=self.role, password=self.password)).close()
        except psycopg.OperationalError:
            return False
        return True


@pytest.fixture
def leak(cluster: ThrowawayCluster, holder: pg.Holder) -> Leak:
    role = pg.unique("app_user")
    password = pg.create_role(cluster, role, limit=3)
    pids = holder.open(3, role, password, app="checkout")
    assert "too many connections" in holder.refused(role, password)
    return Leak(cluster, role, password, pids, holder)


def admin_role(cluster: ThrowawayCluster, *, superuser: bool = False) -> str:
    """An admin DSN: pg_signal_backend and pg_read_all_stats (or a superuser)."""
    name = pg.unique("pgconn_admin")
    extra = "SUPERUSER" if superuser else "IN ROLE pg_signal_backend, pg_read_all_stats"
    pg.create_role(cluster, name, password=ADMIN_PASSWORD, extra=extra)
    return cluster.dsn(user=name, password=ADMIN_PASSWORD)


def config(
    cluster: ThrowawayCluster, admin_dsn: str | None, tmp_path: Path, **cluster_keys: Any
) -> Config:
    body: dict[str, Any] = {"dsn": cluster.dsn(), **cluster_keys}
    if admin_dsn is not None:
        body["admin_dsn"] = admin_dsn
    return parse(
        {
            "clusters": {"prod": body},
            "approvers": [APPROVER],
            "state_path": str(tmp_path / "state.sqlite3"),
        },
        env={},
    )


@dataclass
class Rig:
    """Remediations over stores that tests open (and the fixture closes)."""

    tmp_path: Path
    clock: Clock = field(default_factory=Clock)
    stores: list[Store] = field(default_factory=list)

    def store(self, config: Config) -> Store:
        s = open_store(config.state_path, config.state_dsn)
        self.stores.append(s)
        return s

    def remediation(self, config: Config, **kwargs: Any) -> Remediation:
        kwargs.setdefault("clock", self.clock)
        return Remediation(config, self.store(config), **kwargs)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    for s in r.stores:
        s.close()


MakeAction = Callable[..., ProposedAction]


def terminate(
    role: str, state: str = "idle", min_age_s: int = 0, **more: str | int | list[int]
) -> ProposedAction:
    return ProposedAction(
        ActionKind.TERMINATE,
        "Terminate",
        "frees slots",
        {"role": role, "state": state, "min_age_s": min_age_s, **more},
    )
