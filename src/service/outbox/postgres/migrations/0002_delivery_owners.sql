-- 0002_delivery_owners (PostgreSQL): which instance delivers for each signed-in mailbox
-- (pg-ownership.ts), and which instances are alive (to spread owners evenly).

CREATE TABLE delivery_owners (
  mailbox    text   PRIMARY KEY,                        -- the signed-in mailbox (lower case)
  owner      text   NOT NULL,                           -- the instance (worker owner id)
  expires_at bigint NOT NULL                            -- epoch ms; renewed every lease/3
);

CREATE TABLE delivery_instances (
  owner      text   PRIMARY KEY,
  expires_at bigint NOT NULL
);
