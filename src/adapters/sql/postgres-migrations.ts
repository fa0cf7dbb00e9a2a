import type { ClientBase } from 'pg';
import type { Migration } from './migrations.js';

/**
 * The key of the transaction-scoped advisory lock that serialises migrations: every p11kms
 * process opening the database takes it before reading `schema_migrations`, so replicas starting
 * together apply each step once. ASCII "p11kms" as a bigint; other advisory locks of p11kms (e.g. a
 * scheduler leader) must use other keys.
 */
export const MIGRATION_LOCK_KEY = '123364165799283'; // 0x7031316b6d73

/** The transaction-scoped advisory lock every ledger append takes (postgres-ledger.ts): one chain. */
export const LEDGER_APPEND_LOCK_KEY = '123364165799284'; // 0x7031316b6d74

/** The session-scoped advisory lock the scheduler leader holds (postgres-leader-election.ts). */
export const LEADER_LOCK_KEY = '123364165799285'; // 0x7031316b6d75

/** Serialises one-time set-up across replicas starting together (the audit key in a shared token). */
export const SETUP_LOCK_KEY = '123364165799286'; // 0x7031316b6d76

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
  {
    version: 3,
    name: 'audit ledger: entries, their keys and accounts, signed checkpoints',
    // The SQLite ledger's tables (migrations.ts, step 4) with PostgreSQL types. One chain for every
    // replica: appends serialise on LEDGER_APPEND_LOCK_KEY (postgres-ledger.ts), not on a table lock.
    sql: `
      CREATE TABLE ledger_entries (
        seq               bigint           NOT NULL PRIMARY KEY CHECK (seq >= 1),
        canonical         text             NOT NULL,
        hash              bytea            NOT NULL CHECK (length(hash) = 32),
        time              bigint           NOT NULL,
        request_id        text COLLATE "C" NOT NULL,
        operation         text COLLATE "C" NOT NULL,
        principal_arn     text COLLATE "C",
        principal_account text COLLATE "C",
        outcome           text COLLATE "C" NOT NULL,
        kind              text             NOT NULL CHECK (kind IN ('request', 'background'))
      );

      CREATE INDEX ledger_entries_by_time ON ledger_entries (time, seq);
      CREATE INDEX ledger_entries_by_principal ON ledger_entries (principal_arn, seq);
      CREATE INDEX ledger_entries_by_operation ON ledger_entries (operation, seq);
      CREATE INDEX ledger_entries_by_outcome ON ledger_entries (outcome, seq);
      CREATE INDEX ledger_entries_by_request ON ledger_entries (request_id);

      CREATE TABLE ledger_entry_keys (
        key_id  text COLLATE "C" NOT NULL,
        seq     bigint           NOT NULL,
        key_arn text             NOT NULL,
        account text COLLATE "C" NOT NULL,
        PRIMARY KEY (key_id, seq)
      );

      CREATE TABLE ledger_entry_accounts (
        account text COLLATE "C" NOT NULL,
        seq     bigint           NOT NULL,
        PRIMARY KEY (account, seq)
      );

      -- time is the exact ISO 8601 text that was signed (checkpointPayload).
      CREATE TABLE ledger_checkpoints (
        seq       bigint NOT NULL PRIMARY KEY CHECK (seq >= 1),
        hash      bytea  NOT NULL CHECK (length(hash) = 32),
        time      text   NOT NULL,
        signature bytea  NOT NULL
      );

      -- Stops accidental UPDATE and DELETE, as SQLite's triggers do; the chain and the signed
      -- checkpoints are what make deliberate edits visible.
      CREATE FUNCTION p11kms_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the audit ledger is append-only';
      END $$;
      CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION p11kms_ledger_append_only();
      CREATE TRIGGER ledger_entry_keys_append_only BEFORE UPDATE OR DELETE ON ledger_entry_keys
        FOR EACH ROW EXECUTE FUNCTION p11kms_ledger_append_only();
      CREATE TRIGGER ledger_entry_accounts_append_only BEFORE UPDATE OR DELETE ON ledger_entry_accounts
        FOR EACH ROW EXECUTE FUNCTION p11kms_ledger_append_only();
      CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
        FOR EACH ROW EXECUTE FUNCTION p11kms_ledger_append_only();
    `,
  },
  {
    version: 4,
    name: 'key change notifications for the replicas\' caches',
    // Every committed change to a key's metadata NOTIFYs KEY_CHANGES_CHANNEL with the key id, from
    // the database itself: whoever wrote it (a request, the scheduler, an operator's psql), the
    // notification is part of the same commit and reaches every listening replica right after it
    // (src/adapters/cache/). PostgreSQL folds repeated payloads of one transaction into one.
    sql: `
      CREATE FUNCTION p11kms_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'INSERT' THEN
          PERFORM pg_notify('p11kms_key_changes', to_jsonb(OLD) ->> TG_ARGV[0]);
        END IF;
        IF TG_OP <> 'DELETE' THEN
          PERFORM pg_notify('p11kms_key_changes', to_jsonb(NEW) ->> TG_ARGV[0]);
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER keys_notify AFTER INSERT OR UPDATE OR DELETE ON keys
        FOR EACH ROW EXECUTE FUNCTION p11kms_notify_key_change('id');
      CREATE TRIGGER key_versions_notify AFTER INSERT OR UPDATE OR DELETE ON key_versions
        FOR EACH ROW EXECUTE FUNCTION p11kms_notify_key_change('key_id');
      CREATE TRIGGER key_tags_notify AFTER INSERT OR UPDATE OR DELETE ON key_tags
        FOR EACH ROW EXECUTE FUNCTION p11kms_notify_key_change('key_id');
      CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE ON aliases
        FOR EACH ROW EXECUTE FUNCTION p11kms_notify_key_change('key_id');
      CREATE TRIGGER key_rotation_schedules_notify AFTER INSERT OR UPDATE OR DELETE ON key_rotation_schedules
        FOR EACH ROW EXECUTE FUNCTION p11kms_notify_key_change('key_id');
      CREATE TRIGGER key_policies_notify AFTER INSERT OR UPDATE OR DELETE ON key_policies
        FOR EACH ROW EXECUTE FUNCTION p11kms_notify_key_change('key_id');
      CREATE TRIGGER key_grants_notify AFTER INSERT OR UPDATE OR DELETE ON key_grants
        FOR EACH ROW EXECUTE FUNCTION p11kms_notify_key_change('key_id');
    `,
  },
  {
    version: 5,
    name: 'audit ledger: drop the request-id and outcome indexes',
    // No query reads ledger entries by request id, and an outcome filter is applied to the rows the
    // account (and key) indexes already select: the two indexes only cost every append two more
    // B-tree inserts (the bench profile: ~16 µs of the writer's ~40 µs per entry went to indexes).
    sql: `
      DROP INDEX ledger_entries_by_request;
      DROP INDEX ledger_entries_by_outcome;
    `,
  },
  {
    version: 6,
    name: 'audit ledger: the key index rows need only the key id and the seq',
    // As SQLite's migration 6: no query reads these two columns, and this version leaves them NULL
    // (a NULL costs a bit in the row's null bitmap). They are not dropped: in a rolling upgrade the
    // replicas still running the version before keep appending with them, and must not fail.
    sql: `
      ALTER TABLE ledger_entry_keys ALTER COLUMN key_arn DROP NOT NULL, ALTER COLUMN account DROP NOT NULL;
    `,
  },
  {
    version: 7,
    name: 'key material intents',
    // As SQLite's migration 8: the intent is recorded before a token object is made, so a crash
    // before its metadata is stored leaves a row the scheduler leader finds.
    sql: `
      CREATE TABLE key_material_intents (
        version_id  text   COLLATE "C" NOT NULL PRIMARY KEY,
        key_id      text   COLLATE "C" NOT NULL,
        recorded_at bigint NOT NULL,
        state       text   COLLATE "C" NOT NULL CHECK (state IN ('pending', 'abandoned', 'destroyed'))
      );
      CREATE INDEX key_material_intents_by_state ON key_material_intents (state, recorded_at, version_id);
    `,
  },
];

/** The channel the key-change triggers (migration 4) NOTIFY with a key id. */
export const KEY_CHANGES_CHANNEL = 'p11kms_key_changes';

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
