import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { applySqliteMigrations, SQLITE_MIGRATIONS } from '../../src/adapters/sql/migrations.js';
import { SqliteLedgerStore } from '../../src/adapters/sql/sqlite-ledger.js';
import { ChainBuilder, GENESIS_HEAD } from '../../src/audit/chain.js';
import { entryRow } from '../../src/adapters/sql/ledger-rows.js';
import { sampleEvent } from '../support/audit-ledger.js';
import { expectTimeOrderedListings } from '../support/ledger-listing.js';
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

describe('SQLite ledger listings bounded in time', () => {
  it('walk the time index: the window in (time, seq) order across pages, either way, even after a clock step', async () => {
    const store = await SqliteLedgerStore.open(join(tempDir('p11kms-ledger-time-'), 'p11kms.db'));
    try {
      await expectTimeOrderedListings(store);
    } finally {
      await store.close();
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

  it('stores every column as entryRow gives it: nulls, entries without keys, text beyond Latin-1', async () => {
    // The batch crosses to the writer thread as one text and its lengths (packBatch): each string
    // must come back whole, including those with surrogate pairs, and null must stay null.
    const path = join(tempDir('p11kms-ledger-columns-'), 'p11kms.db');
    const store = await SqliteLedgerStore.open(path);
    const chain = new ChainBuilder(GENESIS_HEAD);
    const otherKey = `arn:aws:kms:eu-west-1:444455556666:key/${'b'.repeat(8)}-bbbb-4bbb-8bbb-${'b'.repeat(12)}`;
    const batch = Array.from({ length: 40 }, (_, i) => {
      const event = sampleEvent(i + 1);
      if (i % 5 === 1) return chain.append({ ...event, keyArns: [] });
      if (i % 5 === 2) return chain.append({ ...event, requestId: `req-✓-😀-${i}`, keyArns: [otherKey, ...event.keyArns] });
      return chain.append(event);
    });
    try {
      await store.appendEntries(GENESIS_HEAD, batch);
    } finally {
      await store.close();
    }

    const rows = batch.map(entryRow);
    expect(rows.some((row) => row.entry.principalArn === null && row.entry.principalAccount === null)).toBe(true);
    const db = new Database(path, { readonly: true });
    try {
      const entries = db.prepare(`SELECT seq, canonical, hash, time, request_id, operation, principal_arn,
        principal_account, outcome, kind FROM ledger_entries ORDER BY seq`).all();
      expect(entries).toEqual(rows.map(({ entry }) => ({
        seq: entry.seq, canonical: entry.canonical, hash: entry.hash, time: entry.time, request_id: entry.requestId,
        operation: entry.operation, principal_arn: entry.principalArn, principal_account: entry.principalAccount,
        outcome: entry.outcome, kind: entry.kind,
      })));
      const keys = db.prepare('SELECT key_id, seq FROM ledger_entry_keys ORDER BY seq, key_id').all();
      expect(keys).toEqual(rows.flatMap(({ entry, keyIds }) => [...keyIds].sort().map((key_id) => ({ key_id, seq: entry.seq }))));
      const accounts = db.prepare('SELECT account, seq FROM ledger_entry_accounts ORDER BY seq, account').all();
      expect(accounts).toEqual(rows.flatMap(({ entry, accounts }) => [...accounts].sort().map((account) => ({ account, seq: entry.seq }))));
    } finally {
      db.close();
    }
  });

  it('refuses a batch with a hash that is not 32 bytes, and writes none of it', async () => {
    const path = join(tempDir('p11kms-ledger-bad-hash-'), 'p11kms.db');
    const store = await SqliteLedgerStore.open(path);
    try {
      const chain = new ChainBuilder(GENESIS_HEAD);
      const good = chain.append(sampleEvent(1));
      const bad = { ...chain.append(sampleEvent(2)), hash: Buffer.alloc(31) };
      await expect(store.appendEntries(GENESIS_HEAD, [good, bad])).rejects.toThrow(RangeError);
      expect(await store.readHead()).toEqual(GENESIS_HEAD);
      // The writer is still usable: the good entry, sent again alone, is stored.
      await store.appendEntries(GENESIS_HEAD, [good]);
      expect((await store.readHead()).seq).toBe(1);
    } finally {
      await store.close();
    }
  });
});
