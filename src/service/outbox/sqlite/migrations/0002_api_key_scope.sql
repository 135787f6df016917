-- 0002_api_key_scope: every message remembers the API key that submitted it (a send key reads
-- only its own messages), and idempotency keys are scoped per API key (two applications using
-- the same key string never collide).
-- Never edit a released migration; add 0003_... instead.

-- ApiKeyRecord.id of the submitter (api_keys.seq as text); NULL for messages accepted before
-- this migration (only admin keys and the admin page see those).
ALTER TABLE messages ADD COLUMN api_key_id TEXT;

-- The client's idempotency key, unique per submitter. The 0001 column `idempotency_key` was
-- unique across all keys; it is retired (always NULL from now on) and its values move here
-- under the "no submitter" scope, where a retry of a pre-upgrade request still finds them (and
-- the retrying key adopts the message; sqlite-outbox.ts: enqueue).
ALTER TABLE messages ADD COLUMN client_idempotency_key TEXT;
UPDATE messages SET client_idempotency_key = idempotency_key, idempotency_key = NULL WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages (coalesce(api_key_id, ''), client_idempotency_key) WHERE client_idempotency_key IS NOT NULL;

-- A send key's listing, newest first.
CREATE INDEX messages_api_key_seq ON messages (api_key_id, seq);
