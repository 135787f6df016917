-- 0006_admin_sessions: admin page sessions in the store (issue 18), so a session signed in on
-- one instance works on every instance and signing out ends it everywhere. The same table on
-- one SQLite instance keeps sessions across a restart.
-- Never edit a released migration; add 0008_... instead (0007 is taken).

-- Only the SHA-256 of the cookie value is stored (a copy of the table does not sign anyone in);
-- the CSRF token is derived from the cookie value, so it is not stored either.
CREATE TABLE admin_sessions (
  key_hash      TEXT    PRIMARY KEY,
  authenticated INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  flash         TEXT
) WITHOUT ROWID;
-- Purging expired sessions; dropping the least recently used anonymous ones first.
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
CREATE INDEX admin_sessions_lru ON admin_sessions (authenticated, last_seen_at);
