"""Load and validate every playbook file at start-up, reporting all problems at once.

A problem names the file and the key (`playbooks/role-limit.yaml: sql[1].statement: ...`), so a
broken playbook directory can be fixed in one pass.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import yaml
from jinja2 import Template, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

import bot
from bot.errors import PlaybookError
from bot.playbooks.model import Playbook, PlaybookSet, SqlTemplate
from bot.playbooks.templating import SQL, TEXT, unsafe_outputs
from bot.triage.codes import FindingCode
from bot.triage.facts import variables

# The wheel ships the repository's top-level playbooks/ as this package (see pyproject.toml).
PACKAGE = "bot._playbooks"


def default_directory() -> Path:
    """The bundled playbooks. Run from a source checkout, its playbooks/ beside bot/ (so edits
    show at once, whichever install the interpreter also has); installed, the package's copy."""
    checkout = Path(bot.__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "playbooks").is_dir():
        return checkout / "playbooks"
    try:
        return Path(str(resources.files(PACKAGE)))
    except ModuleNotFoundError:  # an install without its data: load_playbooks says so
        return checkout / "playbooks"


DEFAULT_DIRECTORY = default_directory()

_KEYS = {"id", "title", "applies_to", "now", "prevent", "sql"}
_REQUIRED = ("id", "title", "applies_to", "now", "prevent")
_SQL_KEYS = {"purpose", "statement", "destructive"}
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# libyaml's safe loader when PyYAML was built with it: the same documents, several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Statements that end sessions must be marked, so they are never shown as harmless.
_DESTRUCTIVE = re.compile(r"pg_(terminate|cancel)_backend", re.IGNORECASE)


def load_playbooks(directory: Path | None = None) -> PlaybookSet:
    """Every `*.yaml` / `*.yml` file in `directory` (default: `$PGCONN_PLAYBOOKS`, else the
    bundled playbooks)."""
    directory = directory or Path(os.environ.get("PGCONN_PLAYBOOKS") or DEFAULT_DIRECTORY)
    if not directory.is_dir():
        raise PlaybookError(
            f"{directory}: playbook directory not found; pass --playbooks DIR or set "
            "PGCONN_PLAYBOOKS"
        )
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    problems: list[str] = []
    if not files:
        problems.append(f"{directory}: no playbook files (*.yaml)")
    playbooks = [p for path in files if (p := _FileLoader(path, problems).load()) is not None]
    seen_ids: dict[str, Path] = {}
    seen_codes: dict[FindingCode, Path] = {}
    for p in playbooks:
        if p.id in seen_ids:
            problems.append(f"{p.path}: id: {p.id!r} is also the id of {seen_ids[p.id]}")
        seen_ids.setdefault(p.id, p.path)
        for code in p.applies_to:
            if code in seen_codes:
                problems.append(
                    f"{p.path}: applies_to: {code.value} is already covered by {seen_codes[code]}"
                )
            seen_codes.setdefault(code, p.path)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise PlaybookError(f"{len(problems)} problem(s) in playbooks:\n{lines}")
    return PlaybookSet(playbooks)


class _FileLoader:
    """Reads one file, appending each problem to the shared list instead of stopping."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        # None until applies_to is known to be valid: then unknown variables can be told.
        self.allowed: frozenset[str] | None = None

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")

    def load(self) -> Playbook | None:
        try:
            text = self.path.read_text(encoding="utf-8")
            data = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{self.path}: cannot read: {exc}")
            return None
        except yaml.YAMLError as exc:
            self.problems.append(f"{self.path}: invalid YAML: {' '.join(str(exc).split())}")
            return None
        if not isinstance(data, dict):
            self.problems.append(f"{self.path}: expected a mapping of keys, got {_kind(data)}")
            return None
        before = len(self.problems)
        for key in sorted(set(data) - _KEYS, key=str):
            self.problem(str(key), f"unknown key (expected: {', '.join(sorted(_KEYS))})")
        for key in _REQUIRED:
            if key not in data:
                self.problem(key, "required")
        pid = data.get("id")
        if "id" in data and not (isinstance(pid, str) and _ID.match(pid)):
            self.problem("id", "must be lower-case letters, digits and dashes")
        codes = self.codes(data.get("applies_to"))
        # Templates may use only what every finding they apply to provides.
        self.allowed = frozenset.intersection(*(variables(c) for c in codes)) if codes else None
        title = self.template("title", data.get("title"), TEXT)
        now = self.steps("now", data.get("now"), required=True)
        prevent = self.steps("prevent", data.get("prevent"), required=False)
        sql = self.statements(data.get("sql", []))
        if len(self.problems) > before or title is None or not isinstance(pid, str):
            return None
        return Playbook(pid, self.path, codes, title, now, prevent, sql)

    def codes(self, value: object) -> tuple[FindingCode, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            self.problem("applies_to", "must be a non-empty list of finding codes")
            return ()
        known = [c.value for c in FindingCode]
        codes = []
        for i, v in enumerate(value):
            if isinstance(v, str) and v in known:
                codes.append(FindingCode(v))
            else:
                self.problem(f"applies_to[{i}]", f"unknown finding code {v!r}{_hint(v, known)}")
        return tuple(codes)

    def steps(self, key: str, value: object, *, required: bool) -> tuple[Template, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or (required and not value):
            self.problem(key, "must be a list of steps" + (" (at least one)" if required else ""))
            return ()
        steps = (self.template(f"{key}[{i}]", v, TEXT) for i, v in enumerate(value))
        return tuple(t for t in steps if t is not None)

    def statements(self, value: object) -> tuple[SqlTemplate, ...]:
        if not isinstance(value, list):
            self.problem("sql", "must be a list of {purpose, statement, destructive}")
            return ()
        out = []
        for i, entry in enumerate(value):
            key = f"sql[{i}]"
            if not isinstance(entry, dict):
                self.problem(key, f"expected a mapping, got {_kind(entry)}")
                continue
            for extra in sorted(set(entry) - _SQL_KEYS, key=str):
                self.problem(
                    f"{key}.{extra}", "unknown key (expected: purpose, statement, destructive)"
                )
            destructive = entry.get("destructive", False)
            if not isinstance(destructive, bool):
                self.problem(f"{key}.destructive", "must be true or false")
            statement = entry.get("statement")
            if isinstance(statement, str) and _DESTRUCTIVE.search(statement) and not destructive:
                self.problem(f"{key}.destructive", "must be true: the statement ends sessions")
            purpose_t = self.template(f"{key}.purpose", entry.get("purpose"), TEXT)
            statement_t = self.template(f"{key}.statement", statement, SQL)
            if purpose_t is not None and statement_t is not None:
                out.append(SqlTemplate(purpose_t, statement_t, destructive is True))
        return tuple(out)

    def template(
        self, key: str, source: object, env: ImmutableSandboxedEnvironment
    ) -> Template | None:
        if source is None:
            self.problem(key, "required")
            return None
        if not isinstance(source, str):
            self.problem(key, f"must be text, got {_kind(source)}")
            return None
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as exc:
            self.problem(key, f"template syntax error at line {exc.lineno}: {exc.message}")
            return None
        if env is SQL:
            for p in unsafe_outputs(ast, source):
                self.problem(key, p)
        if self.allowed is not None:
            for name in sorted(meta.find_undeclared_variables(ast) - self.allowed):
                self.problem(key, f"unknown variable {name!r}{_hint(name, self.allowed)}")
        return env.from_string(ast)  # compiled from the tree already parsed, not parsed twice


def _hint(value: object, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__
