import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportPostgresLedger } from '../../src/adapters/sql/postgres-ledger-export.js';
import { PostgresLedgerStore } from '../../src/adapters/sql/postgres-ledger.js';
import { applyPostgresMigrations, POSTGRES_MIGRATIONS } from '../../src/adapters/sql/postgres-migrations.js';
import { ChainBuilder, GENESIS_HEAD } from '../../src/audit/chain.js';
import { signCheckpoint } from '../../src/audit/checkpoint.js';
import { Checkpointer } from '../../src/audit/checkpointer.js';
import { Ledger } from '../../src/audit/ledger.js';
import { verifyExport } from '../../src/audit/verify.js';
import { systemClock } from '../../src/ports/clock.js';
import { auditKeyPair, linesOf, nodeCheckpointSigner, sampleEvent } from '../support/audit-ledger.js';
import { expectTimeOrderedListings } from '../support/ledger-listing.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

let server: TestPostgres;
const logger = { error: () => undefined };
const keys = auditKeyPair();
const signer = nodeCheckpointSigner(keys.privateKey);

beforeAll(async () => {
  server = await startPostgres({ fsync: false });
});
afterAll(async () => server?.stop());

async function exported(url: string): Promise<string[]> {
  const lines: string[] = [];
  await exportPostgresLedger(url, async (chunk) => void lines.push(...chunk));
  return lines;
}

const entriesOf = (lines: string[]) =>
  lines.map((line) => JSON.parse(line)).filter((line) => line.type === 'entry').map((line) => line.entry);

describe('the audit ledger on PostgreSQL', () => {
  it('continues one chain when several replicas append concurrently: contiguous, verified, still batched', async () => {
    const url = await server.createDatabase();
    const replicas = await Promise.all([1, 2, 3].map(() => PostgresLedgerStore.open(url)));
    const ledgers = await Promise.all(replicas.map((store) => Ledger.open({ store, logger })));
    const checkpointer = await Checkpointer.open(
      { store: replicas[0]!, signer, clock: systemClock, logger, everyEntries: 50, intervalMs: 0 },
      GENESIS_HEAD,
    );
    const perReplica = 300;
    await Promise.all(
      ledgers.map((ledger, r) =>
        Promise.all(
          Array.from({ length: perReplica }, (_, i) =>
            ledger.record({ ...sampleEvent(i + 1), requestId: `replica-${r}-${i}` }),
          ),
        ),
      ),
    );
    checkpointer.committed(await replicas[0]!.readHead());
    await checkpointer.checkpointNow();

    const lines = await exported(url);
    const entries = entriesOf(lines);
    expect(entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 3 * perReplica }, (_, i) => i + 1));
    expect(new Set(entries.map((entry) => entry.requestId)).size).toBe(3 * perReplica);
    const result = await verifyExport(linesOf(lines), keys.publicKeyPem);
    expect(result).toMatchObject({ ok: true, entries: 3 * perReplica });
    // Group commit: far fewer transactions than entries on every replica, and no failed batch.
    for (const ledger of ledgers) {
      expect(ledger.stats.failedBatches).toBe(0);
      expect(ledger.stats.batches).toBeLessThan(perReplica / 2);
      expect(ledger.head.seq).toBeLessThanOrEqual(3 * perReplica);
    }
    await Promise.all(replicas.map((store) => store.close()));
  });

  it('refuses a batch chained from a stale head when re-chaining is off, writing nothing', async () => {
    const url = await server.createDatabase();
    const store = await PostgresLedgerStore.open(url, { rechain: false });
    const first = new ChainBuilder(GENESIS_HEAD);
    await store.appendEntries(GENESIS_HEAD, [first.append(sampleEvent(1))]);
    const stale = new ChainBuilder(GENESIS_HEAD);
    await expect(store.appendEntries(GENESIS_HEAD, [stale.append(sampleEvent(2))])).rejects.toThrow(/another writer/);
    expect((await store.readHead()).seq).toBe(1);
    await store.close();
  });

  it('lists a time window as the SQLite ledger does: in (time, seq) order across pages, either way', async () => {
    const store = await PostgresLedgerStore.open(await server.createDatabase());
    try {
      await expectTimeOrderedListings(store);
    } finally {
      await store.close();
    }
  });

  it('reads like the SQLite ledger: head, filtered pages with markers, last use, checkpoints in order', async () => {
    const url = await server.createDatabase();
    const store = await PostgresLedgerStore.open(url);
    const chain = new ChainBuilder(GENESIS_HEAD);
    const batch = Array.from({ length: 12 }, (_, i) => chain.append(sampleEvent(i + 1)));
    await store.appendEntries(GENESIS_HEAD, batch);
    const head = await store.head();
    expect(head.seq).toBe(12);
    expect(head.hash).toBe(chain.head.hash.toString('hex'));

    const page1 = await store.listEntries({ account: '111122223333', operation: 'Encrypt', limit: 3 });
    expect(page1.items.map((item) => item.entry.seq)).toEqual([2, 4, 6]);
    const page2 = await store.listEntries({ account: '111122223333', operation: 'Encrypt', limit: 3, marker: page1.nextMarker });
    expect(page2.items.map((item) => item.entry.seq)).toEqual([8, 10, 12]);
    expect(page2.nextMarker).toBeUndefined();
    await expect(store.listEntries({ account: '111122223333', limit: 3, marker: 'bogus' })).rejects.toMatchObject({
      name: 'InvalidMarkerException',
    });
    const newest = await store.listEntries({ account: '111122223333', newestFirst: true, limit: 2 });
    expect(newest.items.map((item) => item.entry.seq)).toEqual([12, 11]);
    expect((await store.listEntries({ account: '999999999999', limit: 5 })).items).toEqual([]);

    const keyId = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    // By key, walking the key's own index: filters and markers as without it; another account sees nothing.
    const byKey1 = await store.listEntries({ account: '111122223333', keyId, operation: 'Decrypt', newestFirst: true, limit: 4 });
    expect(byKey1.items.map((item) => item.entry.seq)).toEqual([11, 9, 7, 5]);
    const byKey2 = await store.listEntries({ account: '111122223333', keyId, operation: 'Decrypt', newestFirst: true, limit: 4, marker: byKey1.nextMarker });
    expect(byKey2.items.map((item) => item.entry.seq)).toEqual([3, 1]);
    expect(byKey2.nextMarker).toBeUndefined();
    expect((await store.listEntries({ account: '999999999999', keyId, limit: 5 })).items).toEqual([]);
    expect((await store.lastSuccessfulUse(keyId, ['Encrypt']))?.entry.seq).toBe(10);
    expect(await store.firstEntryTime()).toEqual(new Date(sampleEvent(1).time));

    const checkpoint = await signCheckpoint(signer, chain.head, new Date());
    await store.appendCheckpoint(checkpoint);
    await expect(store.appendCheckpoint(checkpoint)).rejects.toThrow(/not above/);
    expect(await store.lastCheckpoint()).toEqual(checkpoint);
    expect((await store.listCheckpoints({ limit: 10 })).items).toEqual([checkpoint]);

    // Append-only, as in SQLite.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await expect(client.query('DELETE FROM ledger_entries WHERE seq = 1')).rejects.toThrow(/append-only/);
    await expect(client.query("UPDATE ledger_entries SET outcome = 'x' WHERE seq = 1")).rejects.toThrow(/append-only/);
    await client.end();
    await store.close();
  });

  it('migration 6 keeps the key rows an older schema wrote; new rows leave ARN and account NULL, old writers still append', async () => {
    const url = await server.createDatabase();
    const keyId = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const chain = new ChainBuilder(GENESIS_HEAD);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await applyPostgresMigrations(client, POSTGRES_MIGRATIONS.filter((migration) => migration.version <= 5));
      for (let seq = 1; seq <= 4; seq++) {
        const { entry, canonical, hash } = chain.append(sampleEvent(seq));
        await client.query(
          `INSERT INTO ledger_entries (seq, canonical, hash, time, request_id, operation, principal_arn, principal_account, outcome, kind)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [seq, canonical, hash, Date.parse(entry.time), entry.requestId, entry.operation, entry.principalArn, entry.principalAccount, entry.outcome, entry.kind],
        );
        await client.query('INSERT INTO ledger_entry_keys (key_id, seq, key_arn, account) VALUES ($1, $2, $3, $4)', [keyId, seq, entry.keyArns[0], '111122223333']);
        await client.query('INSERT INTO ledger_entry_accounts (account, seq) VALUES ($1, $2)', ['111122223333', seq]);
      }
      const store = await PostgresLedgerStore.open(url);
      try {
        await store.appendEntries(await store.readHead(), [chain.append(sampleEvent(5))]);
        const byKey = await store.listEntries({ account: '111122223333', keyId, newestFirst: true, limit: 10 });
        expect(byKey.items.map((item) => item.entry.seq)).toEqual([5, 4, 3, 2, 1]);
      } finally {
        await store.close();
      }
      const { rows } = await client.query<{ seq: string; key_arn: string | null; account: string | null }>(
        'SELECT seq, key_arn, account FROM ledger_entry_keys ORDER BY seq',
      );
      expect(rows.map((row) => [Number(row.seq), row.key_arn === null, row.account])).toEqual([
        [1, false, '111122223333'], [2, false, '111122223333'], [3, false, '111122223333'], [4, false, '111122223333'],
        [5, true, null],
      ]);
      // A replica still on the version before (rolling upgrade) writes both columns, as it did.
      await client.query('INSERT INTO ledger_entry_keys (key_id, seq, key_arn, account) VALUES ($1, 6, $2, $3)', [keyId, 'arn:x', '111122223333']);
      await expect(client.query('DELETE FROM ledger_entry_keys WHERE seq = 1')).rejects.toThrow(/append-only/);
    } finally {
      await client.end();
    }
  });

  it('fails fast while PostgreSQL is down, writes nothing half, and recovers by itself', async () => {
    const url = await server.createDatabase();
    const store = await PostgresLedgerStore.open(url);
    const ledger = await Ledger.open({ store, logger });
    await ledger.record({ ...sampleEvent(1), requestId: randomUUID() });
    await server.stopServer('immediate');
    try {
      const started = performance.now();
      await expect(ledger.record({ ...sampleEvent(2), requestId: randomUUID() })).rejects.toThrow(/could not record/);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await server.startServer();
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await ledger.record({ ...sampleEvent(3), requestId: randomUUID() });
        break;
      } catch (error) {
        if (attempt > 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const entries = entriesOf(await exported(url));
    expect(entries.map((entry) => entry.seq)).toEqual([1, 2]);
    expect((await verifyExport(linesOf(await exported(url)), keys.publicKeyPem)).ok).toBe(true);
    await store.close();
  });
});
