from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests import pg


@pytest.mark.parametrize("major", pg.MAJORS)
def test_demo_reproduces_triages_and_cleans_up(major):
    before = set(Path(tempfile.gettempdir()).glob(f"pgconn-pg{major}-*"))
    run = subprocess.run(
        ["pgconn", "demo", "--major", str(major), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    top = report["findings"][0]
    assert (top["code"], top["role"], top["current"], top["limit"]) == (
        "role_limit",
        "app_user",
        8,
        8,
    )
    assert report["signals"][0]["kind"] == "role_limit"
    assert 'too many connections for role "app_user"' in run.stderr  # the real FATAL, shown
    assert set(Path(tempfile.gettempdir()).glob(f"pgconn-pg{major}-*")) <= before
