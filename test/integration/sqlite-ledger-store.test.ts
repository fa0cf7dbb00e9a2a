import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { applySqliteMigrations, SQLITE_MIGRATIONS } from '../../src/adapters/sql/migrations.js';
import { SqliteLedgerStore } from '../../src/adapters/sql/sqlite-ledger.js';
import { ChainBuilder, GENESIS_HEAD } from '../../src/audit/chain.js';
import { sampleEvent } from '../support/audit-ledger.js';
import { tempDir } from '../support/temp-dirs.js';

const ACCOUNT = '111122223333';
const KEY_ID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const KEY_ARN = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${KEY_ID}`;

/** A ledger of `count` entries as schema 5 stored them: key rows with their ARN and account. */
function writeSchema5Ledger(path: string, count: number): ChainBuilder {
  const db = new Database(path);
  applySqliteMigrations(db, SQLITE_MIGRATIONS.filter((migration) => migration.version <= 5));
  const chain = new ChainBuilder(GENESIS_HEAD);
  const insertEntry = db.prepare(`INSERT INTO ledger_entries
    (seq, canonical, hash, time, request_id, operation, principal_arn, principal_account, outcome, kind)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertKey = db.prepare('INSERT INTO ledger_entry_keys (key_id, seq, key_arn, account) VALUES (?, ?, ?, ?)');
  const insertAccount = db.prepare('INSERT INTO ledger_entry_accounts (account, seq) VALUES (?, ?)');
  db.transaction(() => {
    for (let seq = 1; seq <= count; seq++) {
      const { entry, canonical, hash } = chain.append(sampleEvent(seq));
      insertEntry.run(seq, canonical, hash, Date.parse(entry.time), entry.requestId, entry.operation,
        entry.principalArn, entry.principalAccount, entry.outcome, entry.kind);
      insertKey.run(KEY_ID, seq, KEY_ARN, ACCOUNT);
      insertAccount.run(ACCOUNT, seq);
    }
  })();
  db.close();
  return chain;
}

describe('SQLite ledger migration 6: key index rows without their ARN and account', () => {
  it('keeps every key row of an older ledger, which then lists and appends by key as before', async () => {
    const path = join(tempDir('p11kms-ledger-migration-'), 'p11kms.db');
    const chain = writeSchema5Ledger(path, 30);

    const store = await SqliteLedgerStore.open(path);
    try {
      const byKey = await store.listEntries({ account: ACCOUNT, keyId: KEY_ID, operation: 'Encrypt', newestFirst: true, limit: 100 });
      expect(byKey.items.map((item) => item.entry.seq)).toEqual(Array.from({ length: 15 }, (_, i) => 30 - 2 * i));
      expect((await store.lastSuccessfulUse(KEY_ID, ['Encrypt', 'Decrypt']))?.entry.seq).toBeGreaterThan(0);

      // The chain goes on from the migrated file; new entries join the same key index.
      const head = await store.readHead();
      expect(head).toEqual({ seq: 30, hash: chain.head.hash });
      await store.appendEntries(head, [chain.append(sampleEvent(31)), chain.append(sampleEvent(32))]);
      const newest = await store.listEntries({ account: ACCOUNT, keyId: KEY_ID, newestFirst: true, limit: 3 });
      expect(newest.items.map((item) => item.entry.seq)).toEqual([32, 31, 30]);
    } finally {
      await store.close();
    }

    const db = new Database(path);
    try {
      const columns = db.prepare("SELECT name FROM pragma_table_info('ledger_entry_keys') ORDER BY cid").pluck().all();
      expect(columns).toEqual(['key_id', 'seq']);
      expect(db.prepare('SELECT count(*) FROM ledger_entry_keys WHERE key_id = ?').pluck().get(KEY_ID)).toBe(32);
      // Still append-only: the rebuilt table has its triggers again.
      expect(() => db.prepare('DELETE FROM ledger_entry_keys WHERE seq = 1').run()).toThrow(/append-only/);
      expect(() => db.prepare("UPDATE ledger_entry_keys SET key_id = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
      expect(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(6);
    } finally {
      db.close();
    }
  });
});

describe('SQLite ledger appends', () => {
  it('stores a batch of 103 entries in order, with every key and account row', async () => {
    const path = join(tempDir('p11kms-ledger-batch-'), 'p11kms.db');
    const store = await SqliteLedgerStore.open(path);
    try {
      const chain = new ChainBuilder(GENESIS_HEAD);
      const otherKey = `arn:aws:kms:eu-west-1:444455556666:key/${'a'.repeat(8)}-aaaa-4aaa-8aaa-${'a'.repeat(12)}`;
      // Every third entry names a second key, of another account: 35 more key and account rows.
      const batch = Array.from({ length: 103 }, (_, i) => {
        const event = sampleEvent(i + 1);
        return chain.append(i % 3 === 0 ? { ...event, keyArns: [...event.keyArns, otherKey] } : event);
      });
      await store.appendEntries(GENESIS_HEAD, batch);
      expect(await store.readHead()).toEqual({ seq: 103, hash: chain.head.hash });

      const all = await store.listEntries({ account: ACCOUNT, limit: 200 });
      expect(all.items.map((item) => item.entry.seq)).toEqual(Array.from({ length: 103 }, (_, i) => i + 1));
      expect(all.items.map((item) => item.canonical)).toEqual(batch.map((entry) => entry.canonical));
      expect(all.items.map((item) => item.hash)).toEqual(batch.map((entry) => entry.hash.toString('hex')));
      const byKey = await store.listEntries({ account: ACCOUNT, keyId: KEY_ID, limit: 200 });
      expect(byKey.items).toHaveLength(103);
      // The other key's account reads exactly the entries that name its key.
      const theirs = await store.listEntries({ account: '444455556666', limit: 200 });
      expect(theirs.items.map((item) => item.entry.seq)).toEqual(Array.from({ length: 35 }, (_, i) => 3 * i + 1));
    } finally {
      await store.close();
    }
  });
});
