"""Tables found in pasted text, as psql, COPY and json_agg print them. Pure: no database.

Recognised: psql's aligned table (header, `---+---` rule, rows, `(N rows)`), `\\x` expanded
records (`-[ RECORD 1 ]---`), unaligned `-A` output (`a|b|c`), CSV from COPY / `\\copy` /
`psql --csv` (with a header), and JSON (a `json_agg` array, or one `row_to_json` object a
line). A header is taken as one only when it names columns pgconn knows, so prose with commas
or pipes is not mistaken for a table. Empty cells are None, as psql prints NULL.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

Row = dict[str, str | None]

# Columns of the views and commands pgconn reads from a paste.
KNOWN_COLUMNS = frozenset(
    {
        # pg_stat_activity (and now() beside it)
        "now", "datid", "datname", "pid", "leader_pid", "usesysid", "usename",
        "application_name", "client_addr", "client_hostname", "client_port",
        "backend_start", "xact_start", "query_start", "state_change", "wait_event_type",
        "wait_event", "state", "backend_xid", "backend_xmin", "query_id", "query",
        "backend_type",
        # pg_settings / SHOW ALL
        "name", "setting", "unit", "description",
        # PgBouncer SHOW POOLS / CLIENTS / CONFIG
        "database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used",
        "sv_tested", "sv_login", "maxwait", "pool_mode", "key", "value", "addr", "port",
    }
)  # fmt: skip
_RULE = re.compile(r"^\s*-+(?:\+-+)*\s*$")
_RECORD = re.compile(r"^\s*-\[ RECORD \d+ \]-*[-+]*\s*$")
_FOOTER = re.compile(r"^\s*\(\d+ rows?\)\s*$")
_FENCE = re.compile(r"^\s*`{3}|`{3}\s*$")


@dataclass(frozen=True, slots=True)
class Table:
    """One result set. `form`: aligned, expanded, unaligned, csv or json; `line` the 1-based
    line of its header (or first record) in the paste."""

    form: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    line: int


def _cell(text: str) -> str | None:
    text = text.strip()
    return text or None


def _known(names: Iterable[str], at_least: int = 2) -> bool:
    names = [n.strip().lower() for n in names]
    return sum(1 for n in names if n in KNOWN_COLUMNS) >= min(at_least, len(names))


def _clean(text: str) -> list[str]:
    # Slack code fences around the paste are not part of the table.
    return [_FENCE.sub("", line).rstrip("\r") for line in text.split("\n")]


def find_tables(text: str) -> list[Table]:
    lines = _clean(text)
    tables: list[Table] = []
    used: set[int] = set()
    for reader in (_aligned, _expanded, _json_tables, _csv_tables, _unaligned):
        for table, span in reader(lines, used):
            tables.append(table)
            used.update(span)
    tables.sort(key=lambda t: t.line)
    return tables


Found = Iterator[tuple[Table, range]]


def _aligned(lines: list[str], used: set[int]) -> Found:
    i = 1
    while i < len(lines):
        rule = lines[i]
        header = lines[i - 1]
        if i in used or not _RULE.match(rule) or not header.strip() or _RECORD.match(header):
            i += 1
            continue
        # Column boundaries are where the rule has '+'.
        cuts = [m.start() for m in re.finditer(r"\+", rule)]
        columns = [c.strip() for c in _split_at(header, cuts)]
        single_setting = len(columns) == 1 and re.fullmatch(r"[a-z_][a-z0-9_.]*", columns[0])
        if not (_known(columns) or single_setting):
            i += 1
            continue
        rows: list[Row] = []
        j = i + 1
        carry: list[str] | None = None
        while j < len(lines) and lines[j].strip() and not _FOOTER.match(lines[j]):
            cells = _split_at(lines[j], cuts)
            if carry is not None:
                # A value psql wrapped onto the next line (multi-line text).
                carry = [a.rstrip(" +") + ("\n" + b.strip() if b.strip() else "")
                         for a, b in zip(carry, cells, strict=False)]  # fmt: skip
            else:
                carry = cells
            if not lines[j].rstrip().endswith("+"):
                rows.append(dict(zip(columns, (_cell(c) for c in carry), strict=False)))
                carry = None
            j += 1
        end = j + 1 if j < len(lines) and _FOOTER.match(lines[j]) else j
        yield Table("aligned", tuple(columns), tuple(rows), i), range(i - 1, end)
        i = end + 1


def _split_at(line: str, cuts: list[int]) -> list[str]:
    out, start = [], 0
    for cut in cuts:
        out.append(line[start:cut])
        start = cut + 1
    out.append(line[start:])
    return out


def _expanded(lines: list[str], used: set[int]) -> Found:
    i = 0
    while i < len(lines):
        if i in used or not _RECORD.match(lines[i]):
            i += 1
            continue
        start = i
        rows: list[Row] = []
        columns: list[str] = []
        while i < len(lines) and _RECORD.match(lines[i]):
            row: Row = {}
            i += 1
            last: str | None = None
            while i < len(lines) and "|" in lines[i] and not _RECORD.match(lines[i]):
                key, _, value = lines[i].partition("|")
                key = key.strip()
                if not key and last is not None:  # continuation of a multi-line value
                    row[last] = ((row[last] or "").rstrip(" +") + "\n" + value.strip()).strip()
                else:
                    row[key] = _cell(value)
                    last = key
                    if key not in columns:
                        columns.append(key)
                i += 1
            rows.append(row)
        if _known(columns):
            yield Table("expanded", tuple(columns), tuple(rows), start + 1), range(start, i)


def _unaligned(lines: list[str], used: set[int]) -> Found:
    i = 0
    while i < len(lines) - 1:
        header = lines[i]
        names = header.split("|")
        if i in used or len(names) < 2 or not _known(names, 3) or " " in header.strip():
            i += 1
            continue
        rows: list[Row] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() and not _FOOTER.match(lines[j]):
            cells = lines[j].split("|")
            if len(cells) > len(names) and "query" in names:
                # A pipe inside the query text: give the surplus back to the query column.
                q = names.index("query")
                extra = len(cells) - len(names)
                cells[q : q + extra + 1] = ["|".join(cells[q : q + extra + 1])]
            if len(cells) == len(names):
                rows.append(dict(zip(names, (_cell(c) for c in cells), strict=True)))
            j += 1
        if rows:
            end = j + 1 if j < len(lines) and _FOOTER.match(lines[j]) else j
            yield Table("unaligned", tuple(names), tuple(rows), i + 1), range(i, end)
            i = end
        else:
            i += 1


def _csv_tables(lines: list[str], used: set[int]) -> Found:
    i = 0
    while i < len(lines) - 1:
        header = lines[i]
        if i in used or "," not in header or "|" in header:
            i += 1
            continue
        names = next(csv.reader([header]))
        if len(names) < 2 or not _known(names, 3):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() and j not in used:
            j += 1
        body = "\n".join(lines[i + 1 : j])
        rows = [
            {k.strip(): (v if v != "" else None) for k, v in zip(names, r, strict=False)}
            for r in csv.reader(io.StringIO(body))
            if len(r) == len(names)
        ]
        if rows:
            yield Table("csv", tuple(n.strip() for n in names), tuple(rows), i + 1), range(i, j)
        i = j


def _json_tables(lines: list[str], used: set[int]) -> Found:
    decoder = json.JSONDecoder()
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if i in used or not stripped.startswith(("[", "{")):
            i += 1
            continue
        rest = "\n".join(lines[i:])
        try:
            value, consumed = decoder.raw_decode(rest.lstrip())
        except ValueError:
            i += 1
            continue
        span = (rest.lstrip()[:consumed]).count("\n") + 1
        objects = value if isinstance(value, list) else [value]
        rows = [o for o in objects if isinstance(o, dict)]
        # row_to_json output: one object a line; gather the run of them.
        j = i + span
        while isinstance(value, dict) and j < len(lines) and lines[j].lstrip().startswith("{"):
            try:
                more, _ = decoder.raw_decode(lines[j].strip())
            except ValueError:
                break
            if not isinstance(more, dict):
                break
            rows.append(more)
            j += 1
        columns = list(dict.fromkeys(k for r in rows for k in r))
        if rows and _known(columns):
            plain = tuple({k: _json_cell(v) for k, v in r.items()} for r in rows)
            yield Table("json", tuple(columns), plain, i + 1), range(i, j)
        i = max(j, i + 1)


def _json_cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
