from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot import throwaway
from tests import pg


@pytest.fixture(scope="session", params=pg.MAJORS, ids=[f"pg{m}" for m in pg.MAJORS])
def cluster(request: pytest.FixtureRequest) -> Iterator[throwaway.ThrowawayCluster]:
    """One shared server per major for the whole run; tests isolate by unique role names."""
    server = pg.start(request.param)
    yield server
    server.destroy()


@pytest.fixture
def holder(cluster: throwaway.ThrowawayCluster) -> Iterator[pg.Holder]:
    with pg.holding(cluster) as h:
        yield h


@pytest.fixture(scope="session")
def server15() -> Iterator[throwaway.ThrowawayCluster]:
    """One server for tests that need PostgreSQL but not each major (e.g. the state store)."""
    server = pg.start(15)
    yield server
    server.destroy()
