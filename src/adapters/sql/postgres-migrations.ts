import type { ClientBase } from 'pg';
import type { Migration } from './migrations.js';

/**
 * The key of the transaction-scoped advisory lock that serialises migrations: every p11kms
 * process opening the database takes it before reading `schema_migrations`, so replicas starting
 * together apply each step once. ASCII "p11kms" as a bigint; other advisory locks of p11kms (e.g. a
 * scheduler leader) must use other keys.
 */
export const MIGRATION_LOCK_KEY = '123364165799283'; // 0x7031316b6d73

/**
 * The PostgreSQL schema, the counterpart of SQLITE_MIGRATIONS (migrations.ts): the same tables,
 * columns and rules, so both stores pass one contract suite. Released steps are never edited.
 *
 * - Times are epoch milliseconds in `bigint` columns, as in SQLite: they sort as numbers and
 *   round-trip a JavaScript Date exactly (timestamptz would too, but then every read converts).
 * - Every text column that is compared or ordered is `COLLATE "C"`: byte order, as SQLite's BINARY,
 *   whatever collation the database was created with; indexes and listings then agree across stores.
 * - `keys.current_version_id` must name a version of the same key; the check is deferred to commit
 *   because a key and its first version are inserted together. Constraint names are explicit: the
 *   store maps unique violations of the primary keys to AlreadyExistsException by name.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'keys, key versions, tags, aliases, rotations, rotation schedules, deletion schedule',
    sql: `
      CREATE TABLE keys (
        id                 text COLLATE "C" NOT NULL,
        arn                text             NOT NULL,
        account            text COLLATE "C" NOT NULL,
        key_spec           text             NOT NULL,
        key_usage          text             NOT NULL,
        origin             text             NOT NULL,
        description        text             NOT NULL DEFAULT '',
        state              text             NOT NULL,
        created_at         bigint           NOT NULL,
        deletion_date      bigint,
        current_version_id text COLLATE "C" NOT NULL,
        CONSTRAINT keys_pkey PRIMARY KEY (id)
      );

      -- ListKeys pages through one account in (created_at, id) order.
      CREATE INDEX keys_by_account ON keys (account, created_at, id);

      CREATE TABLE key_versions (
        id         text COLLATE "C" NOT NULL,
        key_id     text COLLATE "C" NOT NULL,
        created_at bigint           NOT NULL,
        CONSTRAINT key_versions_pkey PRIMARY KEY (id),
        CONSTRAINT key_versions_key_id_id_key UNIQUE (key_id, id),
        CONSTRAINT key_versions_key_id_fkey FOREIGN KEY (key_id) REFERENCES keys (id) ON DELETE CASCADE
      );

      ALTER TABLE keys ADD CONSTRAINT keys_current_version_fkey
        FOREIGN KEY (id, current_version_id) REFERENCES key_versions (key_id, id)
        DEFERRABLE INITIALLY DEFERRED;

      CREATE TABLE key_tags (
        key_id    text COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        tag_key   text COLLATE "C" NOT NULL,
        tag_value text             NOT NULL,
        CONSTRAINT key_tags_pkey PRIMARY KEY (key_id, tag_key)
      );

      -- Every table below names its key with ON DELETE CASCADE as a backstop; deleteKeyMetadata
      -- still deletes each table's rows itself, as the SQLite store does.

      -- Alias names are unique per account (AWS KMS CreateAlias) and compared exactly.
      CREATE TABLE aliases (
        account         text COLLATE "C" NOT NULL,
        alias_name      text COLLATE "C" NOT NULL,
        key_id          text COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        created_at      bigint           NOT NULL,
        last_updated_at bigint           NOT NULL,
        CONSTRAINT aliases_pkey PRIMARY KEY (account, alias_name)
      );

      -- ListAliases pages through one account, or one key, in (created_at, alias_name) order.
      CREATE INDEX aliases_by_account ON aliases (account, created_at, alias_name);
      CREATE INDEX aliases_by_key ON aliases (key_id, created_at, alias_name);

      -- One row per version a rotation made (ListKeyRotations); the first version has none.
      CREATE TABLE key_rotations (
        version_id    text COLLATE "C" NOT NULL,
        key_id        text COLLATE "C" NOT NULL,
        rotation_date bigint           NOT NULL,
        rotation_type text             NOT NULL CHECK (rotation_type IN ('AUTOMATIC', 'ON_DEMAND')),
        CONSTRAINT key_rotations_pkey PRIMARY KEY (version_id),
        FOREIGN KEY (key_id, version_id) REFERENCES key_versions (key_id, id) ON DELETE CASCADE
      );

      CREATE INDEX key_rotations_by_key ON key_rotations (key_id, rotation_date, version_id);

      CREATE TABLE key_rotation_schedules (
        key_id           text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
        enabled          boolean          NOT NULL,
        period_days      integer          NOT NULL CHECK (period_days > 0),
        next_rotation_at bigint,
        CHECK (NOT enabled OR next_rotation_at IS NOT NULL)
      );

      -- The rotation scheduler's query: enabled schedules by next date.
      CREATE INDEX rotation_schedules_due ON key_rotation_schedules (next_rotation_at, key_id) WHERE enabled;

      -- The deletion scheduler's query: pending keys by deletion date.
      CREATE INDEX keys_due_for_deletion ON keys (deletion_date, id) WHERE state = 'PendingDeletion';
    `,
  },
  {
    version: 2,
    name: 'key policies and grants',
    sql: `
      -- A key's one policy ("default"): the document's UTF-8 bytes exactly as given. bytea, not
      -- text, because the port promises any well-formed Unicode string round-trips, and a
      -- PostgreSQL text cannot hold U+0000.
      CREATE TABLE key_policies (
        key_id text  COLLATE "C" NOT NULL PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
        policy bytea             NOT NULL
      );

      -- Grants (AWS KMS CreateGrant). Ids and tokens are unique across keys; names are not.
      -- operations and constraints are json (the text as written, validated), not jsonb, which
      -- would reorder members and refuse an escaped U+0000 inside an encryption context.
      CREATE TABLE key_grants (
        grant_id           text COLLATE "C" NOT NULL,
        key_id             text COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        account            text COLLATE "C" NOT NULL,
        name               text COLLATE "C",
        grantee_principal  text COLLATE "C" NOT NULL,
        retiring_principal text COLLATE "C",
        operations         json             NOT NULL CHECK (json_typeof(operations) = 'array'),
        constraints        json             CHECK (constraints IS NULL OR json_typeof(constraints) = 'object'),
        issuing_account    text             NOT NULL,
        created_at         bigint           NOT NULL,
        grant_token        text COLLATE "C" NOT NULL,
        CONSTRAINT key_grants_pkey PRIMARY KEY (grant_id),
        CONSTRAINT key_grants_grant_token_key UNIQUE (grant_token)
      );

      -- The authorizer's read, ListGrants and the per-key count, in (created_at, grant_id) order.
      CREATE INDEX key_grants_by_key ON key_grants (key_id, created_at, grant_id);
      -- CreateGrant's idempotency check by Name.
      CREATE INDEX key_grants_by_name ON key_grants (key_id, name, created_at, grant_id) WHERE name IS NOT NULL;
      -- ListRetirableGrants across keys; the UNIQUE constraint indexes grant_token (RetireGrant by token).
      CREATE INDEX key_grants_by_retiring_principal ON key_grants (retiring_principal, created_at, grant_id)
        WHERE retiring_principal IS NOT NULL;
    `,
  },
];

/**
 * Brings the database (the first schema of the connection's search_path) up to the last of
 * `migrations`, applying only the missing steps, all in one transaction that first takes the
 * migration advisory lock: processes starting together wait for each other here, the later ones
 * then find the steps recorded, and a failing step leaves the schema exactly as it was (PostgreSQL
 * DDL is transactional). Returns the versions applied. `client` must not be inside a transaction.
 */
export async function applyPostgresMigrations(client: ClientBase, migrations: readonly Migration[]): Promise<number[]> {
  migrations.forEach((migration, index) => {
    const previous = migrations[index - 1];
    if (previous && migration.version <= previous.version) {
      throw new Error(`migration ${migration.version} is out of order`);
    }
  });
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    // Statements after the lock see every commit made before it was granted (READ COMMITTED).
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     NOT NULL PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((row) => row.version));
    const known = new Set(migrations.map((migration) => migration.version));
    const unknown = [...applied].filter((version) => !known.has(version)).sort((a, b) => a - b);
    if (unknown.length > 0) {
      // A newer p11kms wrote this database; running older code against it could corrupt it.
      throw new Error(`database has schema versions this p11kms does not know: ${unknown.join(', ')}`);
    }
    const pending = migrations.filter((migration) => !applied.has(migration.version));
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
    await client.query('COMMIT');
    return pending.map((migration) => migration.version);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
