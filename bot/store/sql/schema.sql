-- The state store's tables; the same text runs on SQLite and PostgreSQL. Times are epoch
-- seconds (double precision) so both backends compare them the same way.
CREATE TABLE IF NOT EXISTS approvals (
    id          TEXT PRIMARY KEY,
    cluster     TEXT NOT NULL,
    action      TEXT NOT NULL,
    params      TEXT NOT NULL,
    targets     TEXT NOT NULL,
    statement   TEXT NOT NULL,
    requester   TEXT NOT NULL,
    channel     TEXT,
    thread_ts   TEXT,
    message_ts  TEXT,
    status      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL,
    decided_by  TEXT,
    decided_at  DOUBLE PRECISION,
    result      TEXT
);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, expires_at);
CREATE TABLE IF NOT EXISTS audit (
    seq          BIGINT NOT NULL,
    at           DOUBLE PRECISION NOT NULL,
    event        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    approval_id  TEXT,
    cluster      TEXT,
    details      TEXT NOT NULL,
    PRIMARY KEY (seq)
);
CREATE TABLE IF NOT EXISTS alerts (
    cluster      TEXT NOT NULL,
    entity_kind  TEXT NOT NULL,
    entity       TEXT NOT NULL,
    level        TEXT NOT NULL,
    channel      TEXT,
    message_ts   TEXT,
    since        DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    data         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    PRIMARY KEY (cluster, entity_kind, entity)
);
CREATE TABLE IF NOT EXISTS leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_events (
    event_id  TEXT PRIMARY KEY,
    at        DOUBLE PRECISION NOT NULL
)
;
-- The newest report of each cluster in chat (its thread, its card, what it showed), so that a
-- repeat within minutes links that thread instead of posting a second report.
CREATE TABLE IF NOT EXISTS incidents (
    cluster      TEXT PRIMARY KEY,
    reported_at  DOUBLE PRECISION NOT NULL,
    data         TEXT NOT NULL
)
