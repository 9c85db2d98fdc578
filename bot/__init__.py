"""pgconn: triage for PostgreSQL connection-exhaustion incidents."""

__version__ = "0.1.0"
