-- 0003_senders (PostgreSQL): several senders (issue 16), the same as SQLite's 0005_senders.
-- Every message records the sender (From address) it is sent as; API keys may be limited to
-- some senders. Never edit a released migration; add 0004_... instead.

-- The sender's From address (lower case). Messages accepted before this migration were sent as
-- the one Authorized from Address: the mailbox they were queued for, which is the default sender.
ALTER TABLE messages ADD COLUMN sender text;
UPDATE messages SET sender = lower(mailbox) WHERE sender IS NULL AND mailbox <> '';
-- The delivery log and GET /api/v1/messages filtered by sender, newest first.
CREATE INDEX messages_sender_seq ON messages (sender, seq);

-- JSON array of sender addresses (lower case) the key may send as; NULL: any sender.
ALTER TABLE api_keys ADD COLUMN senders text;
