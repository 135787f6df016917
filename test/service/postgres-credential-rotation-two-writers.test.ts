/**
 * Settings, rotation and senders writes from two instances on one PostgreSQL database, each on
 * its own pool, interleaved so both decide on the same version; the second writer's decision is
 * made again on fresh state (settings-two-writers.ts).
 */
import { describe, it } from 'node:test';
import { openPgStore } from '../../src/service/outbox/postgres/pg-store.js';
import { countPostgresTests, dropSchema, freshSchemaName, pgSkip, pgUrl } from '../helpers/postgres.js';
import { TWO_WRITER_CASES } from './settings-two-writers.js';

if (!pgSkip) countPostgresTests();

describe('settings compare-and-set: two instances on PostgreSQL', { skip: pgSkip }, () => {
  for (const c of TWO_WRITER_CASES) {
    it(c.name, async () => {
      const schema = freshSchemaName();
      try {
        await c.run(() => openPgStore({ url: pgUrl!, schema, maxConnections: 2 }));
      } finally {
        await dropSchema(schema);
      }
    });
  }
});
