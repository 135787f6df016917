-- 0003_key_last_used_and_test_messages: the admin page shows when each API key was last used,
-- and lists the test emails it sent in the delivery log (marked as tests).

-- Wall-clock ms of the last request authenticated with the key (updated at most every few
-- seconds per key and process: the authentication cache's lifetime).
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;

-- 1 for a "Send test email" message: sent at once outside the queue, recorded with its outcome.
ALTER TABLE messages ADD COLUMN is_test INTEGER NOT NULL DEFAULT 0;
