-- 0004_relay_clients: SMTP relay clients (issue 14) and the source of each message.
-- Never edit a released migration; add 0005_... instead.

CREATE TABLE relay_clients (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT    NOT NULL,
  username      TEXT    NOT NULL,
  password_hash TEXT,                                  -- scrypt verifier; NULL for a --no-auth client
  no_auth       INTEGER NOT NULL DEFAULT 0,
  allow_from    TEXT    NOT NULL,                      -- JSON array of addresses (lower case)
  allow_ip      TEXT    NOT NULL,                      -- JSON array of CIDRs
  from_policy   TEXT    NOT NULL CHECK (from_policy IN ('reject', 'rewrite')),
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  last_used_at  INTEGER
);
CREATE UNIQUE INDEX relay_clients_active_name ON relay_clients (name) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX relay_clients_active_username ON relay_clients (username) WHERE revoked_at IS NULL;

-- Who submitted a message through the relay: RelayClientRecord.id (relay_clients.seq as text)
-- and the client's name at that time (shown in the delivery log). NULL for API messages.
ALTER TABLE messages ADD COLUMN relay_client_id TEXT;
ALTER TABLE messages ADD COLUMN source TEXT;
-- Per-client sent/failed counters.
CREATE INDEX messages_relay_client ON messages (relay_client_id, status) WHERE relay_client_id IS NOT NULL;
