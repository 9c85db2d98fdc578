"""SQL files in `bot/sql/`, one query per file, chosen by server version.

`name.sql` serves every version; `name_post_NNNNNN.sql` serves servers at or above that
`server_version_num`. The highest variant not above the server's version wins.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_VARIANT = re.compile(r"^(?P<name>[a-z_]+?)(?:_post_(?P<version>\d{6}))?\.sql$")


@cache
def _variants() -> dict[str, list[tuple[int, Path]]]:
    table: dict[str, list[tuple[int, Path]]] = {}
    for path in SQL_DIR.glob("*.sql"):
        match = _VARIANT.match(path.name)
        if match:
            table.setdefault(match["name"], []).append((int(match["version"] or 0), path))
    for variants in table.values():
        variants.sort(reverse=True)
    return table


def names() -> set[str]:
    return set(_variants())


@cache
def query(name: str, server_version_num: int) -> str:
    """The text of query `name` for this server version. KeyError names what is missing."""
    for since, path in _variants().get(name, []):
        if since <= server_version_num:
            return path.read_text(encoding="utf-8").strip().rstrip(";")
    raise KeyError(f"no SQL file for query {name!r} at server version {server_version_num}")
