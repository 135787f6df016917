-- 0001_init (PostgreSQL): the whole schema of SQLite migrations 0001-0004 in one step: the
-- outbox, attempts, stored settings, metadata, audit log, API keys and SMTP relay clients.
-- Times are epoch milliseconds (bigint), as in SQLite, so both stores share one notion of time.
-- Never edit a released migration; add 0002_... instead.

CREATE TABLE messages (
  seq                    bigserial PRIMARY KEY,         -- keyset paging position
  id                     text    NOT NULL UNIQUE,       -- API id (UUID)
  message_id_header      text    NOT NULL,              -- <uuid@domain>, stable across attempts
  mailbox                text    NOT NULL,              -- sending mailbox (at enqueue; updated when sent)
  status                 text    NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'retrying', 'failed')),
  to_summary             text    NOT NULL,
  subject                text    NOT NULL,
  recipient_count        integer NOT NULL,
  api_key_id             text,                          -- ApiKeyRecord.id of the submitter
  client_idempotency_key text,                          -- unique per submitter (messages_idempotency)
  request_hash           text,
  attempt_count          integer NOT NULL DEFAULT 0,    -- incremented by each claim, before dispatch
  created_at             bigint  NOT NULL,
  updated_at             bigint  NOT NULL,
  next_attempt_at        bigint,                        -- due time while queued or retrying
  expires_at             bigint  NOT NULL,
  lease_owner            text,
  lease_expires_at       bigint,
  sent_at                bigint,
  response               text,
  last_code              text,
  is_test                boolean NOT NULL DEFAULT false,
  relay_client_id        text,                          -- RelayClientRecord.id of a relay submission
  source                 text                           -- the relay client's name at that time
);

CREATE INDEX messages_due ON messages (next_attempt_at, seq) WHERE status IN ('queued', 'retrying');
CREATE INDEX messages_leased ON messages (lease_expires_at) WHERE status = 'sending';
CREATE INDEX messages_status_seq ON messages (status, seq);
CREATE INDEX messages_sent_at ON messages (mailbox, sent_at) WHERE status = 'sent';
CREATE INDEX messages_updated ON messages (updated_at) WHERE status IN ('sent', 'failed');
CREATE UNIQUE INDEX messages_idempotency ON messages ((coalesce(api_key_id, '')), client_idempotency_key) WHERE client_idempotency_key IS NOT NULL;
CREATE INDEX messages_api_key_seq ON messages (api_key_id, seq);
CREATE INDEX messages_relay_client ON messages (relay_client_id, status) WHERE relay_client_id IS NOT NULL;

-- The body apart from the row the worker updates on every state change (MVCC rewrites the row).
CREATE TABLE message_payloads (
  seq     bigint PRIMARY KEY REFERENCES messages (seq) ON DELETE CASCADE,
  payload text   NOT NULL
);

CREATE TABLE attempts (
  message_seq bigint  NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
  attempt     integer NOT NULL,
  at          bigint  NOT NULL,
  outcome     text    NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed', 'expired', 'interrupted')),
  reply       text,
  code        text,
  diagnosis   text,                                     -- Diagnosis JSON
  PRIMARY KEY (message_seq, attempt)
);

-- Stored Email Settings; secret values are AES-256-GCM ciphertext (see settings-store.ts).
CREATE TABLE settings (
  key        text   PRIMARY KEY,
  value      text   NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE audit_log (
  seq    bigserial PRIMARY KEY,
  at     bigint NOT NULL,
  actor  text   NOT NULL,
  action text   NOT NULL,
  detail text   NOT NULL                                -- JSON, never a secret value
);

CREATE TABLE api_keys (
  seq          bigserial PRIMARY KEY,
  name         text   NOT NULL,
  scope        text   NOT NULL CHECK (scope IN ('send', 'admin')),
  key_hash     text   NOT NULL UNIQUE,                  -- SHA-256 of the key
  prefix       text   NOT NULL,
  created_at   bigint NOT NULL,
  revoked_at   bigint,
  last_used_at bigint
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE relay_clients (
  seq           bigserial PRIMARY KEY,
  name          text    NOT NULL,
  username      text    NOT NULL,
  password_hash text,                                   -- scrypt verifier; NULL for a --no-auth client
  no_auth       boolean NOT NULL DEFAULT false,
  allow_from    text    NOT NULL,                       -- JSON array of addresses (lower case)
  allow_ip      text    NOT NULL,                       -- JSON array of CIDRs
  from_policy   text    NOT NULL CHECK (from_policy IN ('reject', 'rewrite')),
  created_at    bigint  NOT NULL,
  revoked_at    bigint,
  last_used_at  bigint
);
CREATE UNIQUE INDEX relay_clients_active_name ON relay_clients (name) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX relay_clients_active_username ON relay_clients (username) WHERE revoked_at IS NULL;
