"""Role and database names come out exactly as the server quoted them, whatever the quoting
of the format around them."""

from __future__ import annotations

import json

import pytest

from bot.signals import SignalKind, scan

from . import shapes

K = SignalKind

NAMES = [
    "app_user",
    "App User",
    "app.user",
    'a"b',
    'a""x',
    '"quoted"',
    "x; DROP ROLE admin; --",
    "münchen",
    "ユーザー",
    "Ωmega-Δ",
    "trailing ",
    "back\\slash",
    "a«b»c",
    "r" * 63,
    "é" * 31,  # 62 bytes
    "\u00e9" * 31 + "x",  # 63 bytes
]

FORMATS = {
    "libpq": shapes.libpq14,
    "stderr": shapes.stderr,
    "csvlog": shapes.csvlog,
    "jsonlog": shapes.jsonlog,
    "jsonlog-ascii": lambda m: shapes.jsonlog(m, ensure_ascii=True),
    "cloud_logging": shapes.cloud_logging,
    "cloudnativepg": shapes.cloudnativepg,
    "pgx": shapes.pgx,
    "lib/pq": lambda m: shapes.lib_pq(m, "53300"),
    "psycopg": shapes.psycopg3,
    "sqlalchemy": shapes.sqlalchemy,
    "node": shapes.node_printed,
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_role_name_exact(name: str, fmt: str) -> None:
    text = FORMATS[fmt](f'too many connections for role "{name}"')
    (s,) = scan(text)
    assert (s.kind, s.role) == (K.ROLE_LIMIT, name)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_database_name_exact(name: str, fmt: str) -> None:
    text = FORMATS[fmt](f'too many connections for database "{name}"')
    (s,) = scan(text)
    assert (s.kind, s.database) == (K.DATABASE_LIMIT, name)


def test_csv_doubled_quotes_undone() -> None:
    line = shapes.csvlog('too many connections for role "app""x"')
    assert '""app""""x""' in line
    (s,) = scan(line)
    assert s.role == 'app""x'


def test_json_escapes_undone() -> None:
    line = shapes.jsonlog(
        'too many connections for database "m\u00fcnchen \\ \t"', ensure_ascii=True
    )
    assert "\\u00fc" in line
    assert '\\"' in line
    (s,) = scan(line)
    assert s.database == "münchen \\ \t"


@pytest.mark.parametrize(
    ("lang_text", "name"),
    [
        ("zu viele Verbindungen von Rolle »{}«", "app"),
        ("zu viele Verbindungen von Rolle »{}«", "a«b"),
        ("demasiadas conexiones para el rol «{}»", "app user"),
        ("trop de connexions pour le rôle « {} »", "app"),
        ("trop de connexions pour le rôle « {} »", "a » b"),
        ("trop de connexions pour le rôle «\u00a0{}\u00a0»", "app"),  # no-break spaces
        ("terlalu banyak koneksi untuk role « {} »", "app"),
        ('"{}" 롤의 최대 동시 접속수를 초과했습니다', 'a"b'),
        ('"{}" rol bağlantı sayısı aşılmıştır', "uygulama"),
        ('ロール"{}"からの接続が多すぎます', "アプリ"),
        ('由角色"{}"发起的连接太多了', "应用"),
    ],
)
def test_typographic_and_leading_quotes(lang_text: str, name: str) -> None:
    (s,) = scan(shapes.stderr(lang_text.format(name)))
    assert s.role == name


def test_quote_inside_name_takes_last_quote_before_end() -> None:
    (s,) = scan('FATAL:  too many connections for role "a"b"')
    assert s.role == 'a"b'


def test_quote_inside_name_before_pgx_suffix() -> None:
    (s,) = scan(shapes.pgx('too many connections for role "a" (b"'))
    assert s.role == 'a" (b'


def test_chat_after_the_quote_keeps_the_first_name() -> None:
    (s,) = scan('FATAL:  too many connections for role "app" since 9am, the "batch" job?')
    assert s.role == "app"


def test_name_longer_than_63_bytes_is_not_a_name() -> None:
    assert scan(shapes.libpq14('too many connections for role "' + "r" * 64 + '"')) == []
    assert scan(shapes.libpq14('too many connections for role "' + "é" * 32 + '"')) == []


def test_python_repr_of_the_error() -> None:
    text = 'OperationalError(\'FATAL:  too many connections for role "a"b"\\n\')'
    (s,) = scan(text)
    assert s.role == 'a"b'


def test_json_string_seen_raw() -> None:
    text = (
        'msg="connect failed" err="' + json.dumps('FATAL:  too many connections for role "a"')[1:]
    )
    (s,) = scan(text)
    assert s.role == "a"
