"""Playbooks read when a finding asks for one.

`load_playbooks` reads and compiles every playbook, as a long-running process must at
start-up. A one-shot command (`pgconn explain` of a paste) needs one or two of them:
`load_playbooks_lazily` only indexes the files by the finding codes they apply to and reads,
validates and compiles a playbook the first time one of its codes is asked for. Each playbook
read is held to the same checks; anything unusual in the index (an unreadable file, a code
covered twice) falls back to `load_playbooks`, which reports every problem at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import yaml

from bot.errors import PlaybookError
from bot.playbooks.loader import _YAML_LOADER, DEFAULT_DIRECTORY, _FileLoader, load_playbooks
from bot.playbooks.model import Playbook, PlaybookSet
from bot.triage.codes import FindingCode


class LazyPlaybookSet(PlaybookSet):
    """A PlaybookSet whose playbooks are compiled on first use (see the module)."""

    def __init__(self, directory: Path) -> None:  # PlaybookSet's own is not called
        self._directory = directory
        self._index: dict[FindingCode, Path] | None = None
        self._read: dict[Path, Playbook] = {}
        self._full: PlaybookSet | None = None

    def _all(self) -> PlaybookSet:
        if self._full is None:
            self._full = load_playbooks(self._directory)
        return self._full

    def _paths(self) -> dict[FindingCode, Path] | None:
        """Finding code -> file, or None when only a full load can tell (or report) it."""
        if self._index is not None:
            return self._index
        files = sorted([*self._directory.glob("*.yaml"), *self._directory.glob("*.yml")])
        index: dict[FindingCode, Path] = {}
        known = {c.value for c in FindingCode}
        for path in files:
            try:
                data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                return None
            codes = data.get("applies_to") if isinstance(data, dict) else None
            if not isinstance(codes, list) or not codes:
                return None
            for code in codes:
                if not isinstance(code, str) or code not in known or FindingCode(code) in index:
                    return None
                index[FindingCode(code)] = path
        if not files:
            return None
        self._index = index
        return index

    def for_code(self, code: FindingCode | str) -> Playbook | None:
        try:
            wanted = FindingCode(code)
        except ValueError:
            return None
        index = self._paths()
        if index is None:
            return self._all().for_code(wanted)
        path = index.get(wanted)
        if path is None:
            return None
        if path not in self._read:
            problems: list[str] = []
            playbook = _FileLoader(path, problems).load()
            if problems or playbook is None:
                lines = "\n".join(f"  - {p}" for p in problems)
                raise PlaybookError(f"{len(problems)} problem(s) in playbooks:\n{lines}")
            self._read[path] = playbook
        return self._read[path]

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    @property
    def codes(self) -> frozenset[FindingCode]:
        index = self._paths()
        return frozenset(index) if index is not None else self._all().codes


def load_playbooks_lazily(directory: Path | None = None) -> PlaybookSet:
    """Like `load_playbooks`, reading each playbook only when it is first needed."""
    directory = directory or Path(os.environ.get("PGCONN_PLAYBOOKS") or DEFAULT_DIRECTORY)
    if not directory.is_dir():
        raise PlaybookError(
            f"{directory}: playbook directory not found; pass --playbooks DIR or set "
            "PGCONN_PLAYBOOKS"
        )
    return LazyPlaybookSet(directory)
