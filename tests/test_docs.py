"""The README's two commands and the benchmark figures, checked against what runs them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# A measured figure: a percentile, a throughput, or a time or size given as a range.
FIGURE = re.compile(r"\bp(50|95|99)\b|\d+(\.\d+)? ?MB/s|\d+(\.\d+)?–\d+(\.\d+)? ?(ms|s|MB|%)")


def _top_commands() -> list[str]:
    block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines()[:2]]


def test_the_two_commands_make_and_use_a_virtual_environment() -> None:
    demo, tests = _top_commands()
    for command in (demo, tests):
        steps = [s.strip() for s in command.split("&&")]
        assert steps[0] == "python3 -m venv .venv"
        # Everything after runs from the venv, never a system pip (PEP 668 refuses that).
        assert all(s.startswith(".venv/bin/") for s in steps[1:]), command
    assert demo.endswith(".venv/bin/pgconn demo")
    assert tests.endswith(".venv/bin/python -m pytest")


def test_ci_runs_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci
    assert "python3 -m venv .venv" in ci
    assert "apt-get update" in ci and "apt-get install -y" in ci
    assert "deploy-lint" in ci


def test_benchmark_figures_live_only_in_the_readme() -> None:
    table = README.split("## Benchmarks", 1)[1]
    assert FIGURE.search(table)
    for name in ("slack.md", "warnings.md"):
        text = (ROOT / "docs" / name).read_text()
        assert "../README.md#benchmarks" in text, name
    slack = (ROOT / "docs" / "slack.md").read_text()
    assert not FIGURE.search(slack), FIGURE.search(slack)
    measured = (ROOT / "docs" / "warnings.md").read_text().split("## Measured", 1)[1]
    assert "| target |" not in measured
