-- 0004_admin_sessions (PostgreSQL): admin page sessions in the store, the same as SQLite's
-- 0006_admin_sessions. A session signed in on one instance works on every instance; signing out
-- or expiry ends it everywhere. Never edit a released migration; add a later one instead.

-- Only the SHA-256 of the cookie value is stored; the CSRF token is derived from the cookie value.
CREATE TABLE admin_sessions (
  key_hash      text    PRIMARY KEY,
  authenticated boolean NOT NULL,
  created_at    bigint  NOT NULL,
  last_seen_at  bigint  NOT NULL,
  expires_at    bigint  NOT NULL,
  flash         text
);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
CREATE INDEX admin_sessions_lru ON admin_sessions (authenticated, last_seen_at);
