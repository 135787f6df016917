-- 0001_init: the outbox, attempts, stored settings, metadata, audit log and API keys.
-- Never edit a released migration; add 0002_... instead.

CREATE TABLE messages (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,  -- keyset paging position (bigserial in PostgreSQL)
  id                TEXT    NOT NULL UNIQUE,            -- API id (UUID)
  message_id_header TEXT    NOT NULL,                   -- <uuid@domain>, stable across attempts
  mailbox           TEXT    NOT NULL,                   -- sending mailbox (at enqueue; updated when sent)
  status            TEXT    NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'retrying', 'failed')),
  to_summary        TEXT    NOT NULL,
  subject           TEXT    NOT NULL,
  recipient_count   INTEGER NOT NULL,
  idempotency_key   TEXT    UNIQUE,
  request_hash      TEXT,
  attempt_count     INTEGER NOT NULL DEFAULT 0,         -- incremented by each claim, before dispatch
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  next_attempt_at   INTEGER,                            -- due time while queued or retrying
  expires_at        INTEGER NOT NULL,
  lease_owner       TEXT,
  lease_expires_at  INTEGER,
  sent_at           INTEGER,
  response          TEXT,
  last_code         TEXT
);

-- Due messages, oldest due first (claim).
CREATE INDEX messages_due ON messages (next_attempt_at, seq) WHERE status IN ('queued', 'retrying');
-- Expired leases (claim takes them over).
CREATE INDEX messages_leased ON messages (lease_expires_at) WHERE status = 'sending';
-- Listing by status, newest first.
CREATE INDEX messages_status_seq ON messages (status, seq);
-- The 24 h recipient budget and the sent/failed histogram.
CREATE INDEX messages_sent_at ON messages (mailbox, sent_at) WHERE status = 'sent';
CREATE INDEX messages_updated ON messages (updated_at) WHERE status IN ('sent', 'failed');

-- The message itself, apart from the row the worker updates on every state change: an UPDATE
-- rewrites the whole row, so keeping the ~10 KB body here keeps claims and status changes small.
CREATE TABLE message_payloads (
  seq     INTEGER PRIMARY KEY REFERENCES messages (seq) ON DELETE CASCADE,
  payload TEXT    NOT NULL                              -- message JSON
);

CREATE TABLE attempts (
  message_seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
  attempt     INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  outcome     TEXT    NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed', 'expired', 'interrupted')),
  reply       TEXT,
  code        TEXT,
  diagnosis   TEXT,                                     -- Diagnosis JSON
  PRIMARY KEY (message_seq, attempt)
);

-- Stored Email Settings; secret values are AES-256-GCM ciphertext (see settings-store.ts).
CREATE TABLE settings (
  key        TEXT    PRIMARY KEY,
  value      TEXT    NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Small facts: settings version, master-key check, admin password hash, heartbeat.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE audit_log (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  action TEXT    NOT NULL,
  detail TEXT    NOT NULL                               -- JSON, never a secret value
);

CREATE TABLE api_keys (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL,
  scope      TEXT    NOT NULL CHECK (scope IN ('send', 'admin')),
  key_hash   TEXT    NOT NULL UNIQUE,                   -- SHA-256 of the key (keys are 256-bit random)
  prefix     TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
