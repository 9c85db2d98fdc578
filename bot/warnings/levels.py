"""Which level an entity is at: its thresholds (global, per cluster, per role or database) and
the hysteresis that keeps a load hovering at a line from flapping. Pure."""

from __future__ import annotations

from bot.config import ClusterWarnings, LevelOverride, WarningsConfig
from bot.warnings.model import EntityKind, Level, Levels

# Shares are ratios of small integers: 0.8 - 0.1 is 0.7000000000000001, and 7/10 must count as
# being at 0.7.
_EPSILON = 1e-9


def levels_for(
    warn: WarningsConfig, cluster: ClusterWarnings, kind: EntityKind, name: str
) -> Levels:
    """The most specific setting wins: the role's or database's, then the cluster's, then
    `warnings.threshold` / `warnings.critical`."""
    override: LevelOverride | None = None
    if kind is EntityKind.ROLE:
        override = cluster.role(name)
    elif kind is EntityKind.DATABASE:
        override = cluster.database(name)
    threshold, critical = warn.threshold, warn.critical
    for layer in (cluster.levels, override):
        if layer is not None:
            threshold = layer.threshold if layer.threshold is not None else threshold
            critical = layer.critical if layer.critical is not None else critical
    return Levels(threshold=threshold, critical=max(critical, threshold), margin=warn.clear_margin)


def classify(share: float, levels: Levels, previous: Level = Level.OK) -> Level:
    """The level for `share`, given the level the entity was at.

    Entering a level takes its share; leaving it takes the share minus the margin. So with a
    threshold of 0.8 and a margin of 0.1, a role of 20 warns at 16 and clears below 14.
    """

    def at(line: float) -> bool:
        return share >= line - _EPSILON

    if at(levels.critical) or (previous is Level.CRITICAL and at(levels.critical - levels.margin)):
        return Level.CRITICAL
    if at(levels.threshold) or (previous is not Level.OK and at(levels.threshold - levels.margin)):
        return Level.WARNING
    return Level.OK
