"""deploy/constraints.txt, which the image installs from, against pyproject.toml: every runtime
dependency pinned, on every platform the markers choose between, inside its allowed range."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from tests.deploy import tools

PLATFORMS = [
    {"platform_machine": "x86_64", "sys_platform": "linux"},
    {"platform_machine": "aarch64", "sys_platform": "linux"},
]


def runtime() -> list[Requirement]:
    deps = tomllib.loads((tools.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [Requirement(d) for d in deps]


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    pins = tools.constraints()
    for platform in PLATFORMS:
        for req in runtime():
            if req.marker is not None and not req.marker.evaluate(platform):
                continue
            name = tools.canonical(req.name)
            assert name in pins, f"{name} ({platform['platform_machine']}) is not pinned"
            assert req.specifier.contains(Version(pins[name]), prereleases=True), (
                f"{name}=={pins[name]} is outside {req.specifier}; run "
                "python3 deploy/refresh_constraints.py"
            )
            for extra in req.extras:  # psycopg[binary] brings psycopg-binary
                assert tools.canonical(f"{req.name}-{extra}") in pins


def test_the_refresh_command_is_documented() -> None:
    command = "python3 deploy/refresh_constraints.py"
    assert command in tools.CONSTRAINTS.read_text()
    assert command in (tools.ROOT / "docs" / "deploy.md").read_text()
    assert command in (tools.ROOT / "Dockerfile").read_text()
