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
      // The 30 migrated rows are in the key index; the two appended since wait (migration 7).
      expect(db.prepare('SELECT count(*) FROM ledger_entry_keys WHERE key_id = ?').pluck().get(KEY_ID)).toBe(30);
      expect(db.prepare('SELECT seq FROM ledger_entry_keys_waiting WHERE key_id = ? ORDER BY seq').pluck().all(KEY_ID)).toEqual([31, 32]);
      // Still append-only: the rebuilt table has its triggers again.
      expect(() => db.prepare('DELETE FROM ledger_entry_keys WHERE seq = 1').run()).toThrow(/append-only/);
      expect(() => db.prepare("UPDATE ledger_entry_keys SET key_id = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
      expect(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(SQLITE_MIGRATIONS.at(-1)!.version);
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
      // Each key is named 8 times or more in the batch, so its rows went straight to the index;
      // none waits, and none is in both places.
      expect(db.prepare('SELECT count(*) FROM ledger_entry_keys_waiting').pluck().get()).toBe(0);
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

describe('SQLite ledger key rows: waiting in seq order, then moved into the key index (migration 7)', () => {
  const keyIds = ['1a', '2b', '3c', '4d'].map((prefix) => `${prefix.repeat(4)}-0000-4000-8000-${'0'.repeat(12)}`);
  const arn = (keyId: string) => `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${keyId}`;
  /** Entry `seq` names one key, two (every fifth) or none (every eleventh), in an uneven pattern. */
  const keysOf = (seq: number): string[] => {
    if (seq % 11 === 0) return [];
    const first = keyIds[(seq * 7 + (seq >> 4)) % 4] as string;
    return seq % 5 === 0 ? [first, keyIds[(seq + 1) % 4] as string] : [first];
  };
  const eventFor = (seq: number, keys: readonly string[] = keysOf(seq)) => ({ ...sampleEvent(seq), keyArns: keys.map(arn) });

  /** Every page of a listing by key, `limit` at a time, followed by its markers. */
  async function walk(store: SqliteLedgerStore, keyId: string, newestFirst: boolean, limit: number): Promise<number[]> {
    const seqs: number[] = [];
    let marker: string | undefined;
    do {
      const page = await store.listEntries({ account: ACCOUNT, keyId, newestFirst, limit, marker });
      seqs.push(...page.items.map((item) => item.entry.seq));
      marker = page.nextMarker;
    } while (marker !== undefined);
    return seqs;
  }

  /** What each key's listings and last use must be, from what was appended. */
  async function expectListingsByKey(store: SqliteLedgerStore, appended: ReadonlyMap<number, readonly string[]>): Promise<void> {
    for (const keyId of keyIds) {
      const expected = [...appended].filter(([, keys]) => keys.includes(keyId)).map(([seq]) => seq);
      expect(await walk(store, keyId, false, 7)).toEqual(expected);
      expect(await walk(store, keyId, true, 7)).toEqual([...expected].reverse());
      // Encrypt entries that name the key, through the operation filter, newest first.
      const encrypts = await store.listEntries({ account: ACCOUNT, keyId, operation: 'Encrypt', newestFirst: true, limit: 1000 });
      expect(encrypts.items.map((item) => item.entry.seq)).toEqual(expected.filter((seq) => seq % 2 === 0).reverse());
      const lastUse = expected.filter((seq) => sampleEvent(seq).outcome === 'Success').at(-1);
      expect((await store.lastSuccessfulUse(keyId, ['Encrypt', 'Decrypt']))?.entry.seq).toBe(lastUse);
    }
  }

  /**
   * Appends entries up to `last` in batches of sizeOf(first seq of the batch), entry `seq` naming
   * keysFor(seq), and records what each names in `appended`.
   */
  async function appendInBatches(
    store: SqliteLedgerStore, chain: ChainBuilder, appended: Map<number, readonly string[]>, last: number,
    sizeOf: (seq: number) => number, keysFor: (seq: number) => string[] = keysOf,
  ): Promise<void> {
    while (chain.head.seq < last) {
      const head = chain.head;
      const batch = Array.from({ length: Math.min(last - head.seq, sizeOf(head.seq)) }, () => {
        const seq = chain.head.seq + 1;
        appended.set(seq, keysFor(seq));
        return chain.append(eventFor(seq, keysFor(seq)));
      });
      await store.appendEntries(head, batch);
    }
  }
  /** Key rows in `appended` (an entry naming a key twice has one row for it), from seq `after` on. */
  const keyRowsOf = (appended: ReadonlyMap<number, readonly string[]>, after = 0) =>
    [...appended].filter(([seq]) => seq > after).reduce((sum, [, keys]) => sum + new Set(keys).size, 0);

  function countRows(path: string) {
    const db = new Database(path, { readonly: true });
    try {
      return {
        indexed: db.prepare('SELECT count(*) FROM ledger_entry_keys').pluck().get() as number,
        waitingTable: db.prepare('SELECT count(*) FROM ledger_entry_keys_waiting').pluck().get() as number,
        // Waiting rows the index does not hold yet.
        notIndexed: db.prepare(`SELECT count(*) FROM ledger_entry_keys_waiting w
          WHERE NOT EXISTS (SELECT 1 FROM ledger_entry_keys k WHERE k.key_id = w.key_id AND k.seq = w.seq)`).pluck().get() as number,
        firstWaiting: db.prepare('SELECT min(seq) FROM ledger_entry_keys_waiting').pluck().get() as number | null,
      };
    } finally {
      db.close();
    }
  }

  it('lists every key exactly, either way and across pages, while rows wait, move and leave, and after a restart', async () => {
    const path = join(tempDir('p11kms-ledger-key-lag-'), 'p11kms.db');
    const appended = new Map<number, readonly string[]>();
    const chain = new ChainBuilder(GENESIS_HEAD);
    // Batches of 1 to `largest` entries, as group commit makes them.
    const appendUpTo = (store: SqliteLedgerStore, last: number, largest = 60) =>
      appendInBatches(store, chain, appended, last, (seq) => 1 + ((seq * 13) % largest));

    let store = await SqliteLedgerStore.open(path, { keyIndexLag: 5 });
    try {
      await appendUpTo(store, 40);
      await expectListingsByKey(store, appended);
      await appendUpTo(store, 1600);
      await expectListingsByKey(store, appended);
    } finally {
      await store.close();
    }
    const moved = countRows(path);
    // At most 5 rows wait beyond the index; the rest moved, and the rows before the oldest
    // waiting one left the waiting table in runs of 1,024 seqs.
    expect(moved.notIndexed).toBeLessThanOrEqual(5);
    expect(moved.indexed).toBeGreaterThan(1500);
    expect(moved.firstWaiting).toBeGreaterThan(1024);
    expect(moved.waitingTable).toBeLessThan(1300);

    // A restart reads the waiting rows back; appends go on moving them, none twice, none lost.
    store = await SqliteLedgerStore.open(path, { keyIndexLag: 5 });
    try {
      await expectListingsByKey(store, appended);
      await appendUpTo(store, 1800);
      await expectListingsByKey(store, appended);
    } finally {
      await store.close();
    }
    const waitingBefore = countRows(path).notIndexed;
    expect(waitingBefore).toBeLessThanOrEqual(5);

    // With the default lag the same file still lists the same: rows now wait longer. In batches
    // of at most 3 entries no key is named 8 times, so none of these rows moves.
    store = await SqliteLedgerStore.open(path);
    try {
      await appendUpTo(store, 1900, 3);
      await expectListingsByKey(store, appended);
    } finally {
      await store.close();
    }
    expect(countRows(path).notIndexed).toBe(waitingBefore + keyRowsOf(appended, 1800));
  });

  it('lets 8 rows wait per key in use, at least 4,096 and at most the lag given', async () => {
    /** `count` entries on a new chain in batches of `size`, entry `seq` naming keysFor(seq). */
    const fill = async (store: SqliteLedgerStore, count: number, size: number, keysFor: (seq: number) => string[]) => {
      const appended = new Map<number, readonly string[]>();
      await appendInBatches(store, new ChainBuilder(GENESIS_HEAD), appended, count, () => size, keysFor);
      return appended;
    };

    // Four keys, three entries a batch (no key named 8 times): past 4,096 waiting rows they move,
    // though the lag given is 65,536, and every listing stays exact.
    const fewPath = join(tempDir('p11kms-ledger-key-few-'), 'p11kms.db');
    let store = await SqliteLedgerStore.open(fewPath);
    try {
      const appended = await fill(store, 6000, 3, keysOf);
      await expectListingsByKey(store, appended);
      const rows = countRows(fewPath);
      expect(rows.notIndexed).toBeLessThanOrEqual(4096);
      expect(rows.notIndexed).toBeGreaterThan(4096 - 512);
      expect(rows.indexed + rows.notIndexed).toBe(keyRowsOf(appended));
    } finally {
      await store.close();
    }

    // A thousand keys in turn: 6,000 rows are under 8 × 1,000, so all wait; with a lag of 5,000
    // given, at most 5,000 do (a key's 6 rows move together, so at least 4,995).
    const thousand = Array.from({ length: 1000 }, (_, i) => `${i.toString(16).padStart(8, '0')}-0000-4000-8000-${'0'.repeat(12)}`);
    const inTurn = (seq: number) => [thousand[seq % 1000] as string];
    for (const [lag, least, most] of [[undefined, 6000, 6000], [5000, 4995, 5000]] as const) {
      const path = join(tempDir('p11kms-ledger-key-many-'), 'p11kms.db');
      store = await SqliteLedgerStore.open(path, lag === undefined ? {} : { keyIndexLag: lag });
      try {
        await fill(store, 6000, 5, inTurn);
        expect(await walk(store, thousand[7] as string, true, 4)).toEqual([5007, 4007, 3007, 2007, 1007, 7]);
      } finally {
        await store.close();
      }
      const rows = countRows(path);
      expect(rows.notIndexed).toBeGreaterThanOrEqual(least);
      expect(rows.notIndexed).toBeLessThanOrEqual(most);
      expect(rows.indexed + rows.notIndexed).toBe(6000);
    }
  });

  it('moves as many rows as a large batch adds, so that waiting rows stay under the lag', async () => {
    const path = join(tempDir('p11kms-ledger-key-batch-'), 'p11kms.db');
    const store = await SqliteLedgerStore.open(path, { keyIndexLag: 100 });
    const chain = new ChainBuilder(GENESIS_HEAD);
    try {
      await store.appendEntries(GENESIS_HEAD, Array.from({ length: 3000 }, (_, i) => chain.append(eventFor(i + 1))));
    } finally {
      await store.close();
    }
    const rows = countRows(path);
    expect(rows.notIndexed).toBeLessThanOrEqual(100);
    expect(rows.indexed).toBeGreaterThan(2800);
  });

  it('writes the rows of a key named 8 times in a batch straight to the index, after its waiting rows', async () => {
    const path = join(tempDir('p11kms-ledger-key-hot-'), 'p11kms.db');
    const [hot, cold] = keyIds as [string, string];
    const store = await SqliteLedgerStore.open(path);
    const chain = new ChainBuilder(GENESIS_HEAD);
    const append = async (keysOfEntries: string[][]) => {
      const head = chain.head;
      await store.appendEntries(head, keysOfEntries.map((keys) => chain.append(eventFor(chain.head.seq + 1, keys))));
    };
    try {
      for (let i = 0; i < 5; i++) await append([[hot]]); // 1–5 wait
      await append([[cold], ...Array.from({ length: 7 }, () => [hot])]); // 7 times: 6–13 wait too
      expect(countRows(path)).toMatchObject({ indexed: 0, notIndexed: 13 });
      await append([...Array.from({ length: 8 }, () => [hot]), [cold]]); // 8 times: 14–21 go to the index
      expect(countRows(path)).toMatchObject({ indexed: 20, notIndexed: 2 });
      await append([[hot]]); // once more: 23 waits again
      expect(countRows(path)).toMatchObject({ indexed: 20, notIndexed: 3 });
      expect(await walk(store, hot, true, 4)).toEqual([23, ...Array.from({ length: 21 }, (_, i) => 21 - i).filter((seq) => seq !== 6)]);
      expect(await walk(store, cold, false, 4)).toEqual([6, 22]);
    } finally {
      await store.close();
    }
  });

  it('forgets what a failed append kept in memory: a rolled-back key row never reaches the index', async () => {
    const path = join(tempDir('p11kms-ledger-key-rollback-'), 'p11kms.db');
    const [first, second] = keyIds as [string, string];
    const store = await SqliteLedgerStore.open(path, { keyIndexLag: 0 });
    try {
      const chain = new ChainBuilder(GENESIS_HEAD);
      await store.appendEntries(GENESIS_HEAD, [chain.append(eventFor(1, [first]))]);
      const head = chain.head;
      // Entry 2 names the first key, then the batch fails on its duplicate: nothing of it stays.
      const doomed = chain.append(eventFor(2, [first]));
      await expect(store.appendEntries(head, [doomed, doomed])).rejects.toThrow(/UNIQUE/);
      // Entry 2 is then written naming only the second key; with a lag of 0 every row moves at once.
      const retry = new ChainBuilder(head);
      await store.appendEntries(head, [retry.append(eventFor(2, [second])), retry.append(eventFor(3, [first]))]);
      expect(await walk(store, first, false, 10)).toEqual([1, 3]);
      expect(await walk(store, second, true, 10)).toEqual([2]);
    } finally {
      await store.close();
    }
    expect(countRows(path)).toMatchObject({ indexed: 3, notIndexed: 0 });
  });

  it('keeps a waiting row until the key index holds it, and never changes one', async () => {
    const path = join(tempDir('p11kms-ledger-key-waiting-'), 'p11kms.db');
    const store = await SqliteLedgerStore.open(path);
    const chain = new ChainBuilder(GENESIS_HEAD);
    try {
      await store.appendEntries(GENESIS_HEAD, [1, 2, 3].map((seq) => chain.append(eventFor(seq, [keyIds[0] as string]))));
    } finally {
      await store.close();
    }
    const db = new Database(path);
    try {
      expect(() => db.prepare('DELETE FROM ledger_entry_keys_waiting WHERE seq = 2').run()).toThrow(/only once the key index holds it/);
      expect(() => db.prepare("UPDATE ledger_entry_keys_waiting SET key_id = 'x' WHERE seq = 2").run()).toThrow(/append-only/);
      // Once the index holds the row, it may leave (as the writer drops it).
      db.prepare('INSERT INTO ledger_entry_keys (key_id, seq) VALUES (?, 2)').run(keyIds[0]);
      expect(db.prepare('DELETE FROM ledger_entry_keys_waiting WHERE seq = 2').run().changes).toBe(1);
      expect(db.prepare('SELECT seq FROM ledger_entry_keys_waiting ORDER BY seq').pluck().all()).toEqual([1, 3]);
    } finally {
      db.close();
    }
  });
});
