import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applySqliteMigrations, SQLITE_MIGRATIONS, type Migration } from '../../src/adapters/sql/migrations.js';
import { SqliteMetadataStore } from '../../src/adapters/sql/sqlite.js';
import type { GrantRecord } from '../../src/ports/metadata-store.js';
import { metadataStoreContracts, sampleKey } from '../contract/metadata-store.contract.js';

let dir: string | undefined;

function freshPath(): string {
  dir = mkdtempSync(join(tmpdir(), 'p11kms-sqlite-'));
  return join(dir, 'metadata.db');
}

function removeDir(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}

metadataStoreContracts('SQLite (temp file)', async () => SqliteMetadataStore.open(freshPath()), removeDir);
metadataStoreContracts('SQLite (:memory:)', async () => SqliteMetadataStore.open(':memory:'));

describe('SqliteMetadataStore on disk', () => {
  let path: string;

  beforeEach(() => {
    path = freshPath();
  });

  afterEach(removeDir);

  function inspect<T>(query: (db: Database.Database) => T): T {
    const db = new Database(path, { readonly: true });
    try {
      return query(db);
    } finally {
      db.close();
    }
  }

  const appliedMigrations = () =>
    inspect((db) => db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all());

  it('records every migration it applies', async () => {
    await (SqliteMetadataStore.open(path)).close();

    const applied = appliedMigrations() as { version: number; name: string }[];
    expect(applied.map(({ version, name }) => ({ version, name }))).toEqual(
      SQLITE_MIGRATIONS.map(({ version, name }) => ({ version, name })),
    );
  });

  it('keeps its data across reopening and does not run migrations again', async () => {
    const created = sampleKey({}, [{ tagKey: 'k', tagValue: 'v' }]);
    const first = SqliteMetadataStore.open(path);
    await first.createKey(created);
    await first.close();
    const before = appliedMigrations();

    const second = SqliteMetadataStore.open(path);
    expect(await second.getKey(created.key.id)).toEqual(created.key);
    expect(await second.listTags(created.key.id)).toEqual(created.tags);
    await second.close();
    expect(appliedMigrations()).toEqual(before);
  });

  it('writes the database in WAL mode', async () => {
    const store = SqliteMetadataStore.open(path);
    await store.createKey(sampleKey());
    await store.close();

    expect(inspect((db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
  });

  it('lists a key\'s versions ordered by creation, then id', async () => {
    const created = sampleKey({ createdAt: new Date(1_000) });
    const store = SqliteMetadataStore.open(path);
    await store.createKey(created);
    // Added out of order, two in the same millisecond.
    const later = [3_000, 2_000, 2_000].map((ms) => ({
      id: randomUUID(),
      keyId: created.key.id,
      createdAt: new Date(ms),
    }));
    for (const version of later) {
      await store.addKeyVersion(created.key.id, version, { makeCurrent: true, rotationType: 'ON_DEMAND' });
    }

    const expected = [created.version, ...later].sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1),
    );
    expect(await store.listKeyVersions(created.key.id)).toEqual(expected);
    await store.close();
  });
});

describe('SqliteMetadataStore schema', () => {
  let path: string;

  beforeEach(() => {
    path = freshPath();
  });

  afterEach(removeDir);

  /** Every row of every table that names a key, as the raw database holds them. */
  function rowsNaming(keyId: string): Record<string, number> {
    const db = new Database(path, { readonly: true });
    try {
      const count = (sql: string) => db.prepare(sql).pluck().get(keyId) as number;
      return {
        keys: count('SELECT count(*) FROM keys WHERE id = ?'),
        key_versions: count('SELECT count(*) FROM key_versions WHERE key_id = ?'),
        key_tags: count('SELECT count(*) FROM key_tags WHERE key_id = ?'),
        aliases: count('SELECT count(*) FROM aliases WHERE key_id = ?'),
        key_rotations: count('SELECT count(*) FROM key_rotations WHERE key_id = ?'),
        key_rotation_schedules: count('SELECT count(*) FROM key_rotation_schedules WHERE key_id = ?'),
        key_policies: count('SELECT count(*) FROM key_policies WHERE key_id = ?'),
        key_grants: count('SELECT count(*) FROM key_grants WHERE key_id = ?'),
      };
    } finally {
      db.close();
    }
  }

  it('upgrades a database written by schema 1, keeping its keys usable by the new methods', async () => {
    const { key, version } = sampleKey({}, [{ tagKey: 'k', tagValue: 'v' }]);
    // The key as an older p11kms wrote it, with schema 1 only.
    const old = new Database(path);
    applySqliteMigrations(old, SQLITE_MIGRATIONS.filter((migration) => migration.version === 1));
    old.transaction(() => {
      old.prepare(`INSERT INTO keys (id, arn, account, key_spec, key_usage, origin, description, state, created_at,
        deletion_date, current_version_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`).run(
        key.id, key.arn, key.account, key.keySpec, key.keyUsage,
        key.origin, key.description, key.state, key.createdAt.getTime(), version.id,
      );
      old.prepare('INSERT INTO key_versions (id, key_id, created_at) VALUES (?, ?, ?)')
        .run(version.id, key.id, version.createdAt.getTime());
      old.prepare('INSERT INTO key_tags (key_id, tag_key, tag_value) VALUES (?, ?, ?)').run(key.id, 'k', 'v');
    })();
    old.close();

    const store = SqliteMetadataStore.open(path);
    expect(await store.getKey(key.id)).toEqual(key);
    expect(await store.listTags(key.id)).toEqual([{ tagKey: 'k', tagValue: 'v' }]);
    await store.createAlias({ aliasName: 'alias/upgraded', keyId: key.id, account: key.account, createdAt: new Date(5) });
    expect((await store.getAlias(key.account, 'alias/upgraded'))?.keyId).toBe(key.id);
    const next = { id: randomUUID(), keyId: key.id, createdAt: new Date(1_800_000_000_000) };
    const rotated = await store.addKeyVersion(key.id, next, { makeCurrent: true, rotationType: 'ON_DEMAND' });
    expect(rotated.currentVersionId).toBe(next.id);
    // Schema 1 and 2 kept no policy: the caller falls back to the default key policy until a PutKeyPolicy.
    expect(await store.getKeyPolicy(key.id)).toBeUndefined();
    await store.putKeyPolicy(key.id, '{"Version":"2012-10-17","Statement":[]}');
    expect(await store.getKeyPolicy(key.id)).toBe('{"Version":"2012-10-17","Statement":[]}');
    const granted = sampleGrant(key.id, key.account);
    expect(await store.createGrant(granted, { maxGrantsPerKey: 1 })).toStrictEqual(granted);
    await store.close();
    expect(inspectVersions(path)).toEqual(SQLITE_MIGRATIONS.map((migration) => migration.version));
  });

  it('upgrades a database written by schema 2: its keys have no stored policy and no grants', async () => {
    const old = new Database(path);
    applySqliteMigrations(old, SQLITE_MIGRATIONS.filter((migration) => migration.version <= 2));
    old.close();
    // Keys written by schema 2 look the same to the store as the ones schema 1 wrote.
    const legacy = sampleKey();
    const opened = SqliteMetadataStore.open(path);
    await opened.createKey(legacy);
    await opened.close();
    const db = new Database(path);
    db.prepare('DELETE FROM key_policies WHERE key_id = ?').run(legacy.key.id);
    db.close();

    const store = SqliteMetadataStore.open(path);
    expect(await store.getKey(legacy.key.id)).toEqual(legacy.key);
    expect(await store.getKeyPolicy(legacy.key.id)).toBeUndefined();
    expect(await store.grantsForKey(legacy.key.id)).toEqual([]);
    await store.scheduleKeyDeletion(legacy.key.id, new Date(1));
    expect(await store.deleteKeyMetadata(legacy.key.id)).toBe(true);
    await store.close();
  });

  it('answers every grant read with an index: no scan of key_grants, no sort', () => {
    const db = new Database(path);
    try {
      applySqliteMigrations(db, SQLITE_MIGRATIONS);
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...sql.split('?').slice(1).map(() => 'x')) as { detail: string }[])
          .map((row) => row.detail)
          .join('; ');
      const order = 'ORDER BY created_at, grant_id';
      const expectations: [string, RegExp][] = [
        [`SELECT * FROM key_grants WHERE key_id = ? ${order}`, /USING INDEX key_grants_by_key/],
        ['SELECT count(*) FROM key_grants WHERE key_id = ?', /USING COVERING INDEX key_grants_by_key/],
        [`SELECT * FROM key_grants WHERE key_id = ? AND name = ? ${order}`, /USING INDEX key_grants_by_name/],
        [`SELECT * FROM key_grants WHERE retiring_principal = ? ${order}`, /USING INDEX key_grants_by_retiring_principal/],
        // Later pages seek to their position in the index.
        [
          `SELECT * FROM key_grants WHERE key_id = ? AND (created_at, grant_id) > (?, ?) ${order}`,
          /USING INDEX key_grants_by_key \(key_id=\? AND \(created_at,grant_id\)>\(\?,\?\)\)/,
        ],
        [
          `SELECT * FROM key_grants WHERE retiring_principal = ? AND (created_at, grant_id) > (?, ?) ${order}`,
          /USING INDEX key_grants_by_retiring_principal \(retiring_principal=\? AND \(created_at,grant_id\)>\(\?,\?\)\)/,
        ],
        ['SELECT * FROM key_grants WHERE grant_token = ?', /USING INDEX sqlite_autoindex_key_grants_2/],
        ['SELECT * FROM key_grants WHERE key_id = ? AND grant_id = ?', /USING INDEX sqlite_autoindex_key_grants_1/],
        ['SELECT policy FROM key_policies WHERE key_id = ?', /USING INDEX sqlite_autoindex_key_policies_1/],
      ];
      for (const [sql, index] of expectations) {
        const detail = plan(sql);
        expect(detail, sql).toMatch(index);
        expect(detail, sql).not.toMatch(/^SCAN|; SCAN|TEMP B-TREE/);
      }
    } finally {
      db.close();
    }
  });

  it('leaves no row naming a deleted key in any table', async () => {
    const created = sampleKey({}, [{ tagKey: 'k', tagValue: 'v' }]);
    const id = created.key.id;
    const store = SqliteMetadataStore.open(path);
    await store.createKey(created);
    await store.setRotation(id, { enabled: true, periodDays: 90, nextRotationAt: new Date(10) });
    await store.addKeyVersion(id, { id: randomUUID(), keyId: id, createdAt: new Date(20) }, {
      makeCurrent: true, rotationType: 'AUTOMATIC', nextRotationAt: new Date(30),
    });
    const { account } = created.key;
    await store.createAlias({ aliasName: 'alias/doomed', keyId: id, account, createdAt: new Date(5) });
    await store.createGrant(sampleGrant(id, account), { maxGrantsPerKey: 10 });
    expect(rowsNaming(id)).toEqual({
      keys: 1, key_versions: 2, key_tags: 1, aliases: 1, key_rotations: 1, key_rotation_schedules: 1,
      key_policies: 1, key_grants: 1,
    });

    await store.scheduleKeyDeletion(id, new Date(40));
    expect(await store.deleteKeyMetadata(id)).toBe(true);
    await store.close();
    expect(Object.values(rowsNaming(id))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('enforces the new tables\' rules in the schema too, behind the store\'s back', () => {
    const db = new Database(path);
    try {
      db.pragma('foreign_keys = ON');
      applySqliteMigrations(db, SQLITE_MIGRATIONS);
      const keyId = randomUUID();
      // A rotation must name a version of its own key; an enabled schedule needs its next date.
      expect(() =>
        db.prepare(`INSERT INTO key_rotations (version_id, key_id, rotation_date, rotation_type)
          VALUES (?, ?, 0, 'ON_DEMAND')`).run(randomUUID(), keyId),
      ).toThrow(/FOREIGN KEY/);
      expect(() =>
        db.prepare(`INSERT INTO key_rotation_schedules (key_id, enabled, period_days, next_rotation_at)
          VALUES (?, 1, 90, NULL)`).run(keyId),
      ).toThrow();
      // A policy and a grant must name a key; a grant's operations are a JSON array, its constraints an object.
      expect(() => db.prepare('INSERT INTO key_policies (key_id, policy) VALUES (?, ?)').run(keyId, '{}')).toThrow(/FOREIGN KEY/);
      const insertGrant = db.prepare(`INSERT INTO key_grants (grant_id, key_id, account, grantee_principal, operations,
        constraints, issuing_account, created_at, grant_token) VALUES (?, ?, 'a', 'p', ?, ?, 'i', 0, ?)`);
      expect(() => insertGrant.run(randomUUID(), keyId, '[]', null, randomUUID())).toThrow(/FOREIGN KEY/);
      const { key, version, policy } = sampleKey();
      db.transaction(() => {
        db.prepare(`INSERT INTO keys (id, arn, account, key_spec, key_usage, origin, state, created_at, current_version_id)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(key.id, key.arn, key.account, key.keySpec, key.keyUsage, key.origin,
          key.state, 0, version.id);
        db.prepare('INSERT INTO key_versions (id, key_id, created_at) VALUES (?, ?, 0)').run(version.id, key.id);
        db.prepare('INSERT INTO key_policies (key_id, policy) VALUES (?, ?)').run(key.id, policy);
      })();
      expect(() => insertGrant.run(randomUUID(), key.id, '{"not":"an array"}', null, randomUUID())).toThrow(/CHECK/);
      expect(() => insertGrant.run(randomUUID(), key.id, 'not json', null, randomUUID())).toThrow();
      expect(() => insertGrant.run(randomUUID(), key.id, '[]', '["not an object"]', randomUUID())).toThrow(/CHECK/);
      insertGrant.run('g1', key.id, '[]', null, 'same-token');
      expect(() => insertGrant.run('g2', key.id, '[]', null, 'same-token')).toThrow(/UNIQUE/);
    } finally {
      db.close();
    }
  });
});

/** A grant with every optional field, as CreateGrant would store it. */
function sampleGrant(keyId: string, account: string): GrantRecord {
  return {
    grantId: randomBytes(32).toString('hex'),
    keyId,
    account,
    name: 'upgrade',
    granteePrincipal: `arn:aws:iam::${account}:role/developer`,
    retiringPrincipal: `arn:aws:iam::${account}:role/retirer`,
    operations: ['Decrypt'],
    constraints: { encryptionContextEquals: {} },
    issuingAccount: `arn:aws:iam::${account}:root`,
    createdAt: new Date(1_700_000_000_001),
    grantToken: randomBytes(48).toString('base64url'),
  };
}

function inspectVersions(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[];
  } finally {
    db.close();
  }
}

describe('applySqliteMigrations', () => {
  const step = (version: number, sql: string): Migration => ({ version, name: `step ${version}`, sql });
  const tables = (db: Database.Database) =>
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' ORDER BY name").pluck().all();
  let db: Database.Database;

  beforeEach(() => {
    db = new Database(':memory:');
  });

  afterEach(() => db.close());

  it('applies only the steps a database is missing', () => {
    expect(applySqliteMigrations(db, [step(1, 'CREATE TABLE t1 (a)')])).toEqual([1]);
    expect(applySqliteMigrations(db, [step(1, 'CREATE TABLE t1 (a)'), step(2, 'CREATE TABLE t2 (b)')])).toEqual([2]);
    expect(applySqliteMigrations(db, [step(1, 'CREATE TABLE t1 (a)'), step(2, 'CREATE TABLE t2 (b)')])).toEqual([]);
    expect(tables(db)).toEqual(['t1', 't2']);
  });

  it('rolls every step back when one fails', () => {
    const steps = [step(1, 'CREATE TABLE t1 (a)'), step(2, 'CREATE TABLE oops (')];

    expect(() => applySqliteMigrations(db, steps)).toThrow();
    expect(tables(db)).toEqual([]);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'").pluck().get()).toBe(0);
  });

  it('refuses a database written by a newer schema', () => {
    applySqliteMigrations(db, [step(1, 'CREATE TABLE t1 (a)'), step(2, 'CREATE TABLE t2 (b)')]);

    expect(() => applySqliteMigrations(db, [step(1, 'CREATE TABLE t1 (a)')])).toThrow(/schema versions .* 2/);
  });

  it('refuses a list whose versions are not increasing', () => {
    expect(() => applySqliteMigrations(db, [step(2, 'SELECT 1'), step(1, 'SELECT 1')])).toThrow(/out of order/);
  });

  it('has strictly increasing versions in the shipped SQLite list', () => {
    const versions = SQLITE_MIGRATIONS.map((migration) => migration.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });
});
