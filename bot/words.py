"""Counted words as people write them: `1 problem`, `3 problems`, never `problem(s)`."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """`1 session`, `5 sessions`."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
