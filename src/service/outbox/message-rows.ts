/**
 * The messages and attempts tables' rows as both stores read them (SQLite and PostgreSQL share
 * the column names, migrations 0001+ on each side), and their mapping to the store's records:
 * one copy, so a column added to the schema is mapped the same way by both stores.
 *
 * Imports: ./store, core/diagnosis types.
 */
import type { Diagnosis } from '../../core/diagnosis/types.js';
import type { AttemptRecord, MessageRecord, MessageStatus } from './store.js';

export interface MessageRow {
  seq: number;
  id: string;
  message_id_header: string;
  mailbox: string;
  status: MessageStatus;
  to_summary: string;
  subject: string;
  recipient_count: number;
  attempt_count: number;
  created_at: number;
  updated_at: number;
  next_attempt_at: number | null;
  expires_at: number;
  sent_at: number | null;
  response: string | null;
  last_code: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  api_key_id: string | null;
  request_hash?: string | null;
  /** SQLite gives 0/1, PostgreSQL a boolean. */
  is_test: number | boolean;
  relay_client_id: string | null;
  source: string | null;
  sender: string | null;
}

export interface AttemptRow {
  attempt: number;
  at: number;
  outcome: AttemptRecord['outcome'];
  reply: string | null;
  code: string | null;
  diagnosis: string | null;
}

export const RECORD_COLUMNS = `seq, id, message_id_header, mailbox, status, to_summary, subject, recipient_count, attempt_count,
  created_at, updated_at, next_attempt_at, expires_at, sent_at, response, last_code, lease_owner, lease_expires_at, api_key_id, is_test, relay_client_id, source, sender`;

export function toRecord(r: MessageRow): MessageRecord {
  const rec: MessageRecord = {
    id: r.id,
    messageIdHeader: r.message_id_header,
    mailbox: r.mailbox,
    status: r.status,
    toSummary: r.to_summary,
    subject: r.subject,
    recipientCount: r.recipient_count,
    attemptCount: r.attempt_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
  };
  if (r.next_attempt_at !== null) rec.nextAttemptAt = r.next_attempt_at;
  if (r.sent_at !== null) rec.sentAt = r.sent_at;
  if (r.response !== null) rec.response = r.response;
  if (r.last_code !== null) rec.lastCode = r.last_code;
  if (r.lease_owner !== null) rec.leaseOwner = r.lease_owner;
  if (r.lease_expires_at !== null) rec.leaseExpiresAt = r.lease_expires_at;
  if (r.api_key_id !== null) rec.apiKeyId = r.api_key_id;
  if (r.is_test) rec.test = true;
  if (r.relay_client_id !== null) rec.relayClientId = r.relay_client_id;
  if (r.source !== null) rec.source = r.source;
  if (r.sender !== null) rec.sender = r.sender;
  return rec;
}

export function toAttempt(r: AttemptRow): AttemptRecord {
  const a: AttemptRecord = { attempt: r.attempt, at: r.at, outcome: r.outcome };
  if (r.reply !== null) a.reply = r.reply;
  if (r.code !== null) a.code = r.code;
  if (r.diagnosis !== null) a.diagnosis = JSON.parse(r.diagnosis) as Diagnosis;
  return a;
}
