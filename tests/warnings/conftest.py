from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store, open_store
from bot.warnings import RoundReport, Watcher
from tests.warnings.helpers import Clock, RecordingNotifier, config


@dataclass
class World:
    """A watcher over a SQLite store, with its recording notifier and its clock."""

    watcher: Watcher
    sent: RecordingNotifier
    clock: Clock
    store: Store

    def round(self, seconds: float = 60.0) -> RoundReport:
        """Let `seconds` pass, then run one round directly (no scheduler clock)."""
        self.clock.advance(seconds)
        return self.watcher.run_round()


MakeWorld = Callable[..., World]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[MakeWorld]:
    made: list[World] = []

    def make(
        clusters: dict[str, str],
        *,
        store_path: Path | None = None,
        sent: RecordingNotifier | None = None,
        clock: Clock | None = None,
        holder: str = "test-replica",
        store: Store | None = None,
        per_cluster: dict[str, Any] | None = None,
        **warnings: Any,
    ) -> World:
        store = store or open_store(store_path or tmp_path / "state.sqlite3")
        notifier = sent or RecordingNotifier()
        ticking = clock or Clock()
        watcher = Watcher(
            config(clusters, per_cluster, **warnings), store, notifier, clock=ticking, holder=holder
        )
        w = World(watcher, notifier, ticking, store)
        made.append(w)
        return w

    yield make
    for w in made:
        w.watcher.close()
        w.store.close()
