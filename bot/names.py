"""Cluster names: which ones a configuration may hold, and the one a DSN given on the command
line gets. Kept apart from the configuration loader so that `explain` does not import YAML."""

from __future__ import annotations

import re

CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# The name of a cluster given on the command line with --dsn: no configured cluster can have
# it, so advice never names a `pgconn diagnose CLUSTER` that would not run.
ADHOC_CLUSTER = "the given DSN"


def is_configured_name(name: str | None) -> bool:
    return name is not None and bool(CLUSTER_NAME.match(name))
