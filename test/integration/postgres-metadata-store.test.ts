import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KmsError } from '../../src/domain/errors.js';
import type { Migration } from '../../src/adapters/sql/migrations.js';
import { PostgresMetadataStore } from '../../src/adapters/sql/postgres.js';
import { applyPostgresMigrations, POSTGRES_MIGRATIONS } from '../../src/adapters/sql/postgres-migrations.js';
import type { MetadataStore, NewKey } from '../../src/ports/metadata-store.js';
import { metadataStoreContracts, sampleKey } from '../contract/metadata-store.contract.js';
import { sampleVersion } from '../contract/metadata-store.fixtures.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

/**
 * One PostgreSQL server for this file. The contract suites and most tests share one migrated
 * schema, emptied after every test (a few milliseconds; creating and migrating a schema or a
 * database per test costs 10–50 times as much); the migration tests get fresh schemas of their own.
 */
let server: TestPostgres | undefined;
let shared: string | undefined;

beforeAll(async () => {
  server = await startPostgres();
  shared = (await createSchema()).url;
  await (await PostgresMetadataStore.open(shared)).close();
});

afterAll(async () => {
  await server?.stop();
});

function postgres(): TestPostgres {
  if (!server) throw new Error('PostgreSQL is only running inside this file\'s tests');
  return server;
}

function sharedSchema(): string {
  if (!shared) throw new Error('the shared schema exists only inside this file\'s tests');
  return shared;
}

/**
 * A fresh, empty schema of the server's database, and the connection string that puts it first on
 * the search_path: a store opened with it migrates into it and sees nothing else.
 */
async function createSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `t_${randomUUID().replaceAll('-', '')}`;
  const base = postgres().connectionString;
  await adminQuery(base, `CREATE SCHEMA ${name}`);
  return {
    url: `${base}?options=${encodeURIComponent(`-c search_path=${name}`)}`,
    drop: () => adminQuery(base, `DROP SCHEMA ${name} CASCADE`),
  };
}

/**
 * Deletes every row of the shared schema but its migration record, so the next test starts from
 * an empty store. The foreign-key triggers are off for the transaction (replica role), so the
 * order of tables does not matter and a table added by a later migration is emptied too.
 */
async function emptySharedSchema(): Promise<void> {
  await adminQuery(
    sharedSchema(),
    `BEGIN;
     SET LOCAL session_replication_role = replica;
     DO $$
     DECLARE name text;
     BEGIN
       FOR name IN
         SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'
       LOOP
         EXECUTE format('DELETE FROM %I', name);
       END LOOP;
     END $$;
     COMMIT;`,
  );
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

metadataStoreContracts('PostgreSQL', () => PostgresMetadataStore.open(sharedSchema()), emptySharedSchema);

/**
 * Stores and clients for the tests of one describe block, closed after each test; then the
 * shared schema is emptied or, with `fresh`, the test's own new schema dropped.
 */
function storesEachTest({ fresh }: { fresh: boolean }) {
  let schema: Awaited<ReturnType<typeof createSchema>> | undefined;
  const opened: { close(): Promise<void> }[] = [];
  beforeEach(async () => {
    if (fresh) schema = await createSchema();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((resource) => resource.close()));
    if (fresh) await schema?.drop();
    else await emptySharedSchema();
    schema = undefined;
  });
  const url = () => {
    if (!fresh) return sharedSchema();
    if (!schema) throw new Error('the schema exists only inside a test');
    return schema.url;
  };
  return {
    async open(): Promise<PostgresMetadataStore> {
      const store = await PostgresMetadataStore.open(url());
      opened.push(store);
      return store;
    },
    async client(): Promise<pg.Client> {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      opened.push({ close: () => client.end() });
      return client;
    },
  };
}

describe('PostgresMetadataStore migrations', () => {
  const db = storesEachTest({ fresh: true });

  async function appliedMigrations(): Promise<{ version: number; name: string; applied_at: Date }[]> {
    const client = await db.client();
    const { rows } = await client.query('SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
    return rows;
  }

  it('records every migration it applies, in the schema first on its search_path', async () => {
    await db.open();

    const applied = await appliedMigrations();
    expect(applied.map(({ version, name }) => ({ version, name }))).toEqual(
      POSTGRES_MIGRATIONS.map(({ version, name }) => ({ version, name })),
    );
    const client = await db.client();
    const { rows } = await client.query<{ table_schema: string }>(
      `SELECT table_schema FROM information_schema.tables
       WHERE table_name = 'keys' AND table_schema IN (current_schema(), 'public')`,
    );
    expect(rows.map((row) => row.table_schema)).toEqual([expect.stringMatching(/^t_/)]);
  });

  it('keeps its data across reopening and does not run migrations again', async () => {
    const created = sampleKey({}, [{ tagKey: 'k', tagValue: 'v' }]);
    const first = await db.open();
    await first.createKey(created);
    await first.close();
    const before = await appliedMigrations();

    const second = await db.open();
    expect(await second.getKey(created.key.id)).toEqual(created.key);
    expect(await second.listTags(created.key.id)).toEqual(created.tags);
    expect(await appliedMigrations()).toEqual(before);
  });

  it('lets several stores open one fresh database at once, applying each migration exactly once', async () => {
    // A database of its own, as replicas share one in production (the others here use schemas).
    const url = await postgres().createDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresMetadataStore.open(url)));
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query('SELECT version FROM schema_migrations ORDER BY version');
      await client.end();
      expect(rows.map((row) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
      // Every store works on the schema the first one made.
      const created = sampleKey();
      await stores[0]!.createKey(created);
      for (const store of stores) expect(await store.getKey(created.key.id)).toEqual(created.key);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await postgres().dropDatabase(url);
    }
  });

  it('serialises concurrent runs: one applies the steps, the others find them applied', async () => {
    const clients = await Promise.all([db.client(), db.client(), db.client()]);

    const results = await Promise.all(clients.map((client) => applyPostgresMigrations(client, POSTGRES_MIGRATIONS)));
    expect(results.flat()).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    expect(results.filter((applied) => applied.length === 0)).toHaveLength(2);
  });

  const step = (version: number, sql: string): Migration => ({ version, name: `step ${version}`, sql });

  it('rolls every step back when one fails, and refuses a database written by a newer schema', async () => {
    const client = await db.client();
    const tables = async () =>
      (
        await client.query<{ table_name: string }>(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
        )
      ).rows.map((row) => row.table_name);

    const [t1, t2] = [step(1, 'CREATE TABLE t1 (a int)'), step(2, 'CREATE TABLE t2 (b int)')];
    const migrate = (steps: Migration[]) => applyPostgresMigrations(client, steps);

    await expect(migrate([t1, step(2, 'CREATE TABLE (')])).rejects.toThrow();
    expect(await tables()).toEqual([]);

    expect(await migrate([t1, t2])).toEqual([1, 2]);
    await expect(migrate([t1])).rejects.toThrow(/schema versions .* 2/);
    await expect(migrate([step(2, 'SELECT 1'), step(1, 'SELECT 1')])).rejects.toThrow(/out of order/);
    expect(await tables()).toEqual(['schema_migrations', 't1', 't2']);
  });
});

describe('PostgresMetadataStore across connections and replicas', () => {
  const db = storesEachTest({ fresh: false });
  const ON_DEMAND = { makeCurrent: true, rotationType: 'ON_DEMAND' } as const;

  /** Two stores on one database, as two replicas would hold them. */
  async function twoReplicas(): Promise<[MetadataStore, MetadataStore]> {
    return [await db.open(), await db.open()];
  }

  /** Settles every promise; returns the values and the names of the KmsErrors (anything else fails the test). */
  async function outcomes<T>(promises: Promise<T>[]): Promise<{ values: T[]; errors: string[] }> {
    const settled = await Promise.allSettled(promises);
    const values: T[] = [];
    const errors: string[] = [];
    for (const result of settled) {
      if (result.status === 'fulfilled') values.push(result.value);
      else if (result.reason instanceof KmsError) errors.push(result.reason.name);
      else throw result.reason;
    }
    return { values, errors };
  }

  it('holds the on-demand rotation quota across connections: 30 concurrent rotations, quota 25, 25 made', async () => {
    const [a, b] = await twoReplicas();
    const created = sampleKey();
    await a.createKey(created);
    const id = created.key.id;

    const { values, errors } = await outcomes(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? a : b).addKeyVersion(id, sampleVersion(id, new Date(1_700_000_000_000 + i)), {
          ...ON_DEMAND,
          maxOnDemandRotations: 25,
        }),
      ),
    );
    expect(values).toHaveLength(25);
    expect(errors).toEqual(Array(5).fill('LimitExceededException'));
    expect(await b.countOnDemandRotations(id)).toBe(25);
    expect(await a.listKeyVersions(id)).toHaveLength(26);
    expect((await a.listKeyRotations(id, { limit: 100, marker: undefined })).items).toHaveLength(25);
  });

  it('lets exactly one of a CreateKey and a leader abandoning its intent win, whichever locks the row first', async () => {
    const [replica, leader] = await twoReplicas();
    const later = new Date(Date.now() + 86_400_000);
    const intentOf = (created: NewKey) => ({ versionId: created.version.id, keyId: created.key.id, recordedAt: new Date(0) });

    // The leader's abandon holds the row (a transaction of its own, as the sweep's is) while a
    // CreateKey arrives: the CreateKey waits, then sees the intent abandoned and stores nothing.
    const late = sampleKey();
    await replica.recordKeyMaterialIntent(intentOf(late));
    const sweep = await db.client();
    await sweep.query('BEGIN');
    await sweep.query("UPDATE key_material_intents SET state = 'abandoned' WHERE version_id = $1", [late.version.id]);
    const creating = replica.createKey(late).then(() => 'stored', (error: unknown) => (error as KmsError).name);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sweep.query('COMMIT');
    expect(await creating).toBe('KMSInternalException');
    expect(await leader.getKey(late.key.id)).toBeUndefined();

    // A CreateKey's transaction holds the row when the leader sweeps: the sweep waits, then finds
    // the intent taken, and answers nothing to destroy.
    const early = sampleKey();
    await replica.recordKeyMaterialIntent(intentOf(early));
    const create = await db.client();
    await create.query('BEGIN');
    await create.query("DELETE FROM key_material_intents WHERE version_id = $1 AND state = 'pending'", [early.version.id]);
    const sweeping = leader.abandonKeyMaterialIntents(later, 100);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await create.query('COMMIT');
    expect((await sweeping).map((intent) => intent.versionId)).toEqual([late.version.id]);
  });

  it('rotates a due key automatically once when two schedulers race', async () => {
    const [a, b] = await twoReplicas();
    const created = sampleKey();
    await a.createKey(created);
    const id = created.key.id;
    await a.setRotation(id, { enabled: true, periodDays: 90, nextRotationAt: new Date(2_000) });
    const rotation = { makeCurrent: true, rotationType: 'AUTOMATIC', nextRotationAt: new Date(5_000) } as const;

    const { values, errors } = await outcomes(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 === 0 ? a : b).addKeyVersion(id, sampleVersion(id, new Date(2_000 + i)), rotation),
      ),
    );
    expect(values).toHaveLength(1);
    expect(errors).toEqual(Array(15).fill('KMSInvalidStateException'));
    expect((await b.getRotation(id))?.nextRotationAt).toEqual(new Date(5_000));
    expect(await b.listKeyVersions(id)).toHaveLength(2);
  });

  it('keeps the tag quota when replicas tag one key at once', async () => {
    const [a, b] = await twoReplicas();
    const created = sampleKey();
    await a.createKey(created);
    const id = created.key.id;

    // 10 calls of 6 new tags each: at most 8 fit under 50.
    const { values, errors } = await outcomes(
      Array.from({ length: 10 }, (_, call) =>
        (call % 2 === 0 ? a : b).tagResource(
          id,
          Array.from({ length: 6 }, (_, i) => ({ tagKey: `c${call}-t${i}`, tagValue: '' })),
        ),
      ),
    );
    expect(values).toHaveLength(8);
    expect(errors).toEqual(['TagException', 'TagException']);
    expect(await a.listTags(id)).toHaveLength(48);
  });

  it('answers AlreadyExistsException to every loser of a race on one key id or alias name', async () => {
    const [a, b] = await twoReplicas();
    const first = sampleKey();
    const attempts = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b));

    const keys = await outcomes(attempts.map((store) => store.createKey(sampleKey({ id: first.key.id }))));
    expect(keys.values).toHaveLength(1);
    expect(keys.errors).toEqual(Array(5).fill('AlreadyExistsException'));
    expect(await a.listKeyVersions(first.key.id)).toHaveLength(1);

    const { account } = first.key;
    const alias = { aliasName: 'alias/contended', account, keyId: first.key.id, createdAt: new Date(1) };
    const aliases = await outcomes(attempts.map((store) => store.createAlias(alias)));
    expect(aliases.values).toHaveLength(1);
    expect(aliases.errors).toEqual(Array(5).fill('AlreadyExistsException'));
  });

  it('never leaves a cancelled key without its metadata, nor a deleted key with any', async () => {
    const [a, b] = await twoReplicas();
    const created = sampleKey();
    await a.createKey(created);
    const id = created.key.id;
    await a.createAlias({ aliasName: 'alias/doomed', account: created.key.account, keyId: id, createdAt: new Date(1) });
    await a.scheduleKeyDeletion(id, new Date(10_000));

    // The owner cancels (before the date) while the scheduler deletes: exactly one wins.
    const [cancel, remove] = await Promise.allSettled([
      a.cancelKeyDeletion(id, new Date(9_999)),
      b.deleteKeyMetadata(id),
    ]);
    const key = await a.getKey(id);
    if (cancel.status === 'fulfilled') {
      expect(remove.status).toBe('rejected');
      expect(key?.state).toBe('Disabled');
      expect(await a.listAliasesForKey(id)).toHaveLength(1);
    } else {
      expect(remove).toEqual({ status: 'fulfilled', value: true });
      expect(key).toBeUndefined();
      expect(await a.listAliasesForKey(id)).toEqual([]);
    }
  });
});

describe('PostgresMetadataStore schema', () => {
  const db = storesEachTest({ fresh: false });

  it('orders text by bytes, as SQLite does, even in a database whose default collation is ICU', async () => {
    const url = await postgres().createDatabase({ icuLocale: 'und' });
    const store = await PostgresMetadataStore.open(url);
    try {
      const created = sampleKey();
      await store.createKey(created);
      const names = ['b', 'B', 'a', 'A', '_', 'é', 'z', 'Z', '0', '~', '😀', '\uffff'];
      await store.tagResource(created.key.id, names.map((tagKey) => ({ tagKey, tagValue: '' })));

      const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect((await store.listTags(created.key.id)).map((tag) => tag.tagKey)).toEqual(byBytes);
    } finally {
      await store.close();
      await postgres().dropDatabase(url);
    }
  });

  it('leaves no row naming a deleted key in any table', async () => {
    const store = await db.open();
    const created = sampleKey({}, [{ tagKey: 'k', tagValue: 'v' }]);
    const id = created.key.id;
    await store.createKey(created);
    await store.setRotation(id, { enabled: true, periodDays: 90, nextRotationAt: new Date(10) });
    await store.addKeyVersion(id, { id: randomUUID(), keyId: id, createdAt: new Date(20) }, {
      makeCurrent: true, rotationType: 'AUTOMATIC', nextRotationAt: new Date(30),
    });
    const { account } = created.key;
    await store.createAlias({ aliasName: 'alias/doomed', keyId: id, account, createdAt: new Date(5) });
    await store.createGrant(
      {
        grantId: 'ab'.repeat(32),
        keyId: id,
        account,
        granteePrincipal: `arn:aws:iam::${account}:role/app`,
        operations: ['Decrypt'],
        issuingAccount: `arn:aws:iam::${account}:root`,
        createdAt: new Date(6),
        grantToken: 'token',
      },
      { maxGrantsPerKey: 10 },
    );
    const client = await db.client();
    const rowsNaming = async () => {
      const counts: Record<string, number> = {};
      for (const [table, column] of Object.entries(TABLES_NAMING_KEYS)) {
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [id]);
        counts[table] = rows[0].n;
      }
      return counts;
    };
    expect(await rowsNaming()).toEqual({
      keys: 1, key_versions: 2, key_tags: 1, aliases: 1, key_rotations: 1, key_rotation_schedules: 1,
      key_policies: 1, key_grants: 1,
    });

    await store.scheduleKeyDeletion(id, new Date(40));
    expect(await store.deleteKeyMetadata(id)).toBe(true);
    expect(Object.values(await rowsNaming())).toEqual(Object.values(TABLES_NAMING_KEYS).map(() => 0));
  });

  it('enforces the tables\' rules in the schema too, behind the store\'s back', async () => {
    await db.open();
    const client = await db.client();
    const keyId = randomUUID();

    // A rotation must name a version of its own key; an enabled schedule needs its next date.
    await expect(
      client.query(`INSERT INTO key_rotations (version_id, key_id, rotation_date, rotation_type)
        VALUES ($1, $2, 0, 'ON_DEMAND')`, [randomUUID(), keyId]),
    ).rejects.toThrow(/foreign key/);
    await expect(
      client.query(`INSERT INTO key_rotation_schedules (key_id, enabled, period_days, next_rotation_at)
        VALUES ($1, true, 90, NULL)`, [keyId]),
    ).rejects.toThrow();
  });

  it('round-trips the largest and smallest dates a JavaScript Date holds', async () => {
    const store = await db.open();
    const extremes = [new Date(8.64e15), new Date(-8.64e15), new Date(0)];
    for (const createdAt of extremes) {
      const created = sampleKey({ createdAt });
      await store.createKey(created);
      expect(await store.getKey(created.key.id)).toEqual(created.key);
    }
  });
});

describe('PostgresMetadataStore when PostgreSQL goes away', () => {
  const db = storesEachTest({ fresh: false });

  it('fails requests while the server is down and recovers by itself when it returns', async () => {
    const store = await db.open();
    const created = sampleKey();
    await store.createKey(created);

    await postgres().stopServer('fast');
    try {
      const started = Date.now();
      await expect(store.getKey(created.key.id)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await postgres().startServer();
    }
    expect(await store.getKey(created.key.id)).toEqual(created.key);
  });
});

/** Every table that names a key, and the column that does. */
const TABLES_NAMING_KEYS = {
  keys: 'id',
  key_versions: 'key_id',
  key_tags: 'key_id',
  aliases: 'key_id',
  key_rotations: 'key_id',
  key_rotation_schedules: 'key_id',
  key_policies: 'key_id',
  key_grants: 'key_id',
} as const;
