"""The warnings keys of the configuration: defaults, overrides, every problem with its path."""

from __future__ import annotations

import pytest

from bot.config import LevelOverride, WarningsConfig, parse
from bot.errors import ConfigError


def test_defaults():
    config = parse({"clusters": {"prod": {"dsn": "host=a"}}}, env={})
    assert config.warnings == WarningsConfig()
    w = config.warnings
    assert (w.interval_seconds, w.threshold, w.critical, w.clear_margin) == (60, 0.8, 0.95, 0.1)
    assert (w.concurrency, w.probe_timeout_seconds, w.unreachable_after) == (16, 5, 2)
    assert w.holder is None
    assert w.alert_channel is None
    prod = config.cluster("prod").warnings
    assert prod.enabled
    assert prod.levels == LevelOverride()
    assert prod.role("x") is None


def test_every_key_is_read():
    config = parse(
        {
            "clusters": {
                "prod": {
                    "dsn": "host=a",
                    "warnings": {
                        "enabled": False,
                        "threshold": 0.6,
                        "critical": 0.7,
                        "roles": {"app": {"threshold": 0.5}},
                        "databases": {"shop": {"critical": 0.99}},
                    },
                }
            },
            "warnings": {
                "interval_seconds": 30,
                "threshold": 0.7,
                "critical": 0.9,
                "clear_margin": 0.05,
                "concurrency": 4,
                "probe_timeout_seconds": 2,
                "unreachable_after": 3,
                "samples": 20,
                "reopen_seconds": 60,
                "refresh_seconds": 120,
                "alert_channel": "C1",
                "holder": "bot-a",
            },
        },
        env={},
    )
    w = config.warnings
    assert w == WarningsConfig(30, 0.7, 0.9, 0.05, 4, 2, 3, 20, 60, 120, "C1", "bot-a")
    prod = config.cluster("prod").warnings
    assert not prod.enabled
    assert prod.levels == LevelOverride(0.6, 0.7)
    assert prod.role("app") == LevelOverride(threshold=0.5)
    assert prod.database("shop") == LevelOverride(critical=0.99)


def test_problems_come_with_their_paths():
    doc = {
        "clusters": {
            "prod": {
                "dsn": "host=a",
                "warnings": {
                    "enabled": "yes",
                    "treshold": 0.5,
                    "threshold": 0.99,
                    "roles": {
                        "app": {"threshold": 2},
                        "batch": {"threshold": 0.9, "critical": 0.5},
                    },
                    "databases": ["shop"],
                },
            }
        },
        "warnings": {
            "concurrency": 0,
            "samples": 2.5,
            "clear_margin": 0.9,
            "holder": "",
            "probe_timeout_seconds": "fast",
            "bogus": 1,
        },
    }
    with pytest.raises(ConfigError) as info:
        parse(doc, env={})
    problems = "\n".join(info.value.problems)
    for expected in [
        "clusters.prod.warnings.enabled: must be true or false",
        "clusters.prod.warnings.treshold: unknown key",
        "clusters.prod.warnings.roles.app.threshold: must be between",
        "clusters.prod.warnings.roles.batch: critical (0.5) must be at least threshold (0.9)",
        "clusters.prod.warnings: critical (0.95) must be at least threshold (0.99)",
        "clusters.prod.warnings.databases: must be a mapping",
        "warnings.concurrency: must be between 1 and 256",
        "warnings.samples: must be a whole number",
        "warnings.clear_margin: must be between 0 and 0.5",
        "warnings.holder: must be a non-empty string",
        "warnings.probe_timeout_seconds: must be a number",
        "warnings.bogus: unknown key",
    ]:
        assert expected in problems, (expected, problems)
