"""How full PgBouncer is, as plain numbers: what a warning rule compares with its thresholds.

Pure (no I/O). The warnings scheduler calls `pooler_levels` on each PoolerSnapshot it reads and
applies its own thresholds (a share for `client_usage`, counts and seconds for waiting).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.pgbouncer.model import PoolerSnapshot


@dataclass(frozen=True, slots=True)
class PoolLevel:
    """One application pool: clients queued, how long the oldest has waited, servers in use."""

    database: str
    user: str
    clients_waiting: int
    maxwait_s: float
    servers: int
    pool_size: int

    @property
    def usage(self) -> float:
        """Server connections held over pool_size (1.0: the next busy client queues)."""
        return self.servers / self.pool_size if self.pool_size > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PoolerLevels:
    """`client_connections` counts what PgBouncer checks max_client_conn against, less the
    console connection the reading itself used."""

    client_connections: int
    max_client_conn: int
    clients_waiting: int
    max_wait_s: float
    pools: tuple[PoolLevel, ...]

    @property
    def client_usage(self) -> float:
        """Share of max_client_conn in use; at 1.0 new clients are refused."""
        if self.max_client_conn <= 0:
            return 0.0
        return self.client_connections / self.max_client_conn

    @property
    def waiting_pools(self) -> tuple[PoolLevel, ...]:
        return tuple(p for p in self.pools if p.clients_waiting > 0)


def pooler_levels(snapshot: PoolerSnapshot) -> PoolerLevels:
    """The levels of one reading; pools with the most waiting first."""
    pools = sorted(
        (
            PoolLevel(
                database=p.database,
                user=p.user,
                clients_waiting=p.cl_waiting,
                maxwait_s=p.maxwait_s,
                servers=p.servers,
                pool_size=snapshot.pool_size(p),
            )
            for p in snapshot.app_pools
        ),
        key=lambda p: (-p.clients_waiting, -p.maxwait_s, p.database, p.user),
    )
    return PoolerLevels(
        client_connections=snapshot.client_connections,
        max_client_conn=snapshot.config.max_client_conn,
        clients_waiting=sum(p.clients_waiting for p in pools),
        max_wait_s=max((p.maxwait_s for p in pools), default=0.0),
        pools=tuple(pools),
    )
