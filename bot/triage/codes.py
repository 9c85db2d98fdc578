"""Finding codes: stable identifiers that select playbooks (`applies_to` in playbooks/*.yaml)."""

from __future__ import annotations

from enum import StrEnum


class FindingCode(StrEnum):
    # A limit that is full or nearly full.
    ROLE_LIMIT = "role_limit"
    DATABASE_LIMIT = "database_limit"
    MAX_CONNECTIONS = "max_connections"
    RESERVED_SLOTS = "reserved_slots"
    SERVER_NEAR_FULL = "server_near_full"
    WALSENDER_LIMIT = "walsender_limit"
    # What holds the slots.
    IDLE_SESSIONS = "idle_sessions"
    IDLE_IN_TRANSACTION = "idle_in_transaction"
    # Limits outside PostgreSQL, and refusals that are not about capacity.
    POOLER_CLIENT_LIMIT = "pooler_client_limit"
    POOLER_WAIT_TIMEOUT = "pooler_wait_timeout"
    # PgBouncer, read live from its console.
    POOLER_CLIENTS_WAITING = "pooler_clients_waiting"
    POOLER_POOL_FULL = "pooler_pool_full"
    POOLER_SERVER_LIMIT = "pooler_server_limit"
    POOLER_SERVER_LOGIN = "pooler_server_login"
    POOLER_SESSION_STATE = "pooler_session_state"
    APP_POOL_TIMEOUT = "app_pool_timeout"
    SERVER_NOT_READY = "server_not_ready"
    # The paste reports a limit that the live numbers do not show now.
    NOT_CONFIRMED = "not_confirmed"
