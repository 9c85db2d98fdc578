"""A DSN libpq would misread is refused at load, and passwords are masked by position."""

from __future__ import annotations

import pytest

from bot.cli import EXIT_USAGE, main
from bot.config import parse
from bot.errors import ConfigError
from bot.redact import MASK, redact_for_dsn, redact_text

LEAKY = "postgresql://monitor:Pw@Leak-Secret-77@db.internal/postgres"


@pytest.mark.parametrize(
    "dsn",
    [
        LEAKY,
        "postgresql://monitor:pa/ss-Leak-Secret-77@db.internal/postgres",
        "postgres://monitor:a@b@c@db.internal:5432/postgres",
    ],
)
def test_misread_uri_is_refused_with_the_fix(dsn: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"clusters": {"prod": {"dsn": dsn, "admin_dsn": dsn}}}, env={})
    text = str(caught.value)
    assert "clusters.prod.dsn" in text and "clusters.prod.admin_dsn" in text
    assert "percent-encode" in text and "%40" in text
    assert "Leak-Secret" not in text and "Pw" not in text


def test_encoded_password_is_accepted() -> None:
    config = parse({"clusters": {"prod": {"dsn": LEAKY.replace("Pw@", "Pw%40")}}}, env={})
    assert "Pw@Leak-Secret-77" in config.secrets()


def test_cli_refuses_misread_dsn_without_echoing_it(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagnose", "--dsn", LEAKY]) == EXIT_USAGE
    config = tmp_path / "pgconn.yaml"
    config.write_text(f'clusters:\n  prod:\n    dsn: "{LEAKY}"\n')
    assert main(["check-config", "--config", str(config)]) == EXIT_USAGE
    out = capsys.readouterr()
    assert "percent-encode" in out.err + out.out
    assert "Leak-Secret" not in out.err + out.out


def test_uri_password_is_masked_up_to_the_last_at() -> None:
    shown = redact_text(f"could not use {LEAKY} today")
    assert "Leak-Secret" not in shown and "Pw" not in shown
    assert f"monitor:{MASK}@db.internal/postgres" in shown


@pytest.mark.parametrize("password", ["x9", "abc", "q"])
def test_short_passwords_are_masked_where_they_stand_alone(password: str) -> None:
    dsn = f"host=db user=m password={password}"
    shown = redact_for_dsn(f"auth failed for password {password}: {dsn}", dsn)
    assert f" {password}:" not in shown and f"={password}" not in shown
    # Not inside other words: the rest of the message stays readable.
    assert "failed for password" in shown
