"""Shared by the deploy tests: paths, and the rule for missing tools (skip locally, fail in CI,
where `.ci/run` installs every one of them)."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "pgconn"


def missing(what: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; .ci/run installs it")
    pytest.skip(f"{what} is not installed (pip install -e '.[dev]')")


def module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"the Python package providing {name!r}")


def binary(name: str) -> str:
    """A command from PATH, or beside this interpreter (a venv's scripts, not activated)."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        missing(f"the {name!r} command")
    return path
