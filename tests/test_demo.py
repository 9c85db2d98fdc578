from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests import pg, pgconn_command


@pytest.mark.parametrize("major", pg.MAJORS)
def test_demo_reproduces_triages_and_cleans_up(major):
    run = subprocess.run(
        [pgconn_command(), "demo", "--major", str(major), "--json"],
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
    data_dir = re.search(r"data directory (\S+)", run.stderr)
    assert data_dir, run.stderr
    assert not Path(data_dir.group(1)).exists()
