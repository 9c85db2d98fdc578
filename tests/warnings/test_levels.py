"""Levels, hysteresis and where thresholds come from: pure."""

from __future__ import annotations

import pytest

from bot.config import parse
from bot.warnings.levels import classify, levels_for
from bot.warnings.model import EntityKind, Level, Levels

L = Levels(threshold=0.8, critical=0.95, margin=0.1)


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (15, Level.OK, Level.OK),
        (16, Level.OK, Level.WARNING),  # 16/20 = 0.8: at the threshold warns
        (19, Level.OK, Level.CRITICAL),
        (18, Level.CRITICAL, Level.CRITICAL),  # 0.9 >= 0.95 - 0.1: still critical
        (17, Level.CRITICAL, Level.CRITICAL),  # 0.85: exactly at the critical margin
        (16, Level.CRITICAL, Level.WARNING),
        (15, Level.WARNING, Level.WARNING),  # below the threshold, above the margin: holds
        (14, Level.WARNING, Level.WARNING),  # 0.7 = 0.8 - 0.1 exactly: holds
        (13, Level.WARNING, Level.OK),  # below threshold - margin: clears
        (14, Level.CRITICAL, Level.WARNING),
        (13, Level.CRITICAL, Level.OK),
    ],
)
def test_hysteresis(current, previous, expected):
    assert classify(current / 20, L, previous) is expected


def test_flapping_around_the_line_holds_the_level():
    level = Level.OK
    seen = []
    for current in [16, 15, 16, 15, 14, 16, 15, 14, 16]:
        level = classify(current / 20, L, level)
        seen.append(level)
    assert seen == [Level.WARNING] * 9


def test_overrides_role_then_cluster_then_global():
    config = parse(
        {
            "clusters": {
                "prod": {
                    "dsn": "host=a",
                    "warnings": {
                        "threshold": 0.7,
                        "roles": {"batch": {"threshold": 0.9, "critical": 0.99}},
                        "databases": {"shop": {"critical": 0.9}},
                    },
                },
                "dev": {"dsn": "host=b"},
            },
            "warnings": {"threshold": 0.75, "critical": 0.95, "clear_margin": 0.05},
        },
        env={},
    )
    prod = config.cluster("prod").warnings
    dev = config.cluster("dev").warnings
    assert levels_for(config.warnings, prod, EntityKind.ROLE, "batch") == Levels(0.9, 0.99, 0.05)
    assert levels_for(config.warnings, prod, EntityKind.ROLE, "app") == Levels(0.7, 0.95, 0.05)
    assert levels_for(config.warnings, prod, EntityKind.DATABASE, "shop") == Levels(0.7, 0.9, 0.05)
    # A role override does not apply to a database of the same name, nor to the server.
    assert levels_for(config.warnings, prod, EntityKind.DATABASE, "batch").threshold == 0.7
    assert levels_for(config.warnings, prod, EntityKind.SERVER, "").threshold == 0.7
    assert levels_for(config.warnings, dev, EntityKind.ROLE, "batch") == Levels(0.75, 0.95, 0.05)
