"""Test helpers shared across the suite."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def pgconn_command() -> str:
    """The `pgconn` console script of the interpreter running the tests (a venv's, even when the
    venv is not activated), else the one on PATH."""
    beside = Path(sys.executable).with_name("pgconn")
    return str(beside) if beside.exists() else shutil.which("pgconn") or "pgconn"
