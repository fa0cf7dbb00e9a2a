import type { Database } from 'better-sqlite3';

/**
 * One step of the schema. Steps are applied in order, each exactly once, and recorded in
 * `schema_migrations`; a released step is never edited — a change is a new step.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The SQLite schema (the PostgreSQL store keeps its own list beside this one).
 *
 * Times are epoch milliseconds in INTEGER columns, so they compare and sort as numbers and
 * round-trip a JavaScript Date exactly. `keys.current_version_id` must name a version of the same
 * key; the check is deferred to commit because a key and its first version are inserted together.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'keys, key versions and tags',
    sql: `
      CREATE TABLE keys (
        id                 TEXT    NOT NULL PRIMARY KEY,
        arn                TEXT    NOT NULL,
        account            TEXT    NOT NULL,
        key_spec           TEXT    NOT NULL,
        key_usage          TEXT    NOT NULL,
        origin             TEXT    NOT NULL,
        description        TEXT    NOT NULL DEFAULT '',
        state              TEXT    NOT NULL,
        created_at         INTEGER NOT NULL,
        deletion_date      INTEGER,
        current_version_id TEXT    NOT NULL,
        FOREIGN KEY (id, current_version_id) REFERENCES key_versions (key_id, id)
          DEFERRABLE INITIALLY DEFERRED
      ) STRICT;

      -- ListKeys pages through one account in (created_at, id) order.
      CREATE INDEX keys_by_account ON keys (account, created_at, id);

      CREATE TABLE key_versions (
        id         TEXT    NOT NULL PRIMARY KEY,
        key_id     TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        UNIQUE (key_id, id)
      ) STRICT;

      CREATE TABLE key_tags (
        key_id    TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        tag_key   TEXT NOT NULL,
        tag_value TEXT NOT NULL,
        PRIMARY KEY (key_id, tag_key)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'aliases, rotations, rotation schedules, deletion schedule',
    // Every new table names its key with ON DELETE CASCADE as a backstop; deleteKeyMetadata still
    // deletes each table's rows itself, so the store does not depend on the foreign_keys pragma.
    sql: `
      -- Alias names are unique per account (AWS KMS CreateAlias) and compared exactly.
      CREATE TABLE aliases (
        account         TEXT    NOT NULL,
        alias_name      TEXT    NOT NULL,
        key_id          TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        created_at      INTEGER NOT NULL,
        last_updated_at INTEGER NOT NULL,
        PRIMARY KEY (account, alias_name)
      ) STRICT, WITHOUT ROWID;

      -- ListAliases pages through one account, or one key, in (created_at, alias_name) order.
      CREATE INDEX aliases_by_account ON aliases (account, created_at, alias_name);
      CREATE INDEX aliases_by_key ON aliases (key_id, created_at, alias_name);

      -- One row per version a rotation made (ListKeyRotations); the first version has none.
      CREATE TABLE key_rotations (
        version_id    TEXT    NOT NULL PRIMARY KEY,
        key_id        TEXT    NOT NULL,
        rotation_date INTEGER NOT NULL,
        rotation_type TEXT    NOT NULL CHECK (rotation_type IN ('AUTOMATIC', 'ON_DEMAND')),
        FOREIGN KEY (key_id, version_id) REFERENCES key_versions (key_id, id) ON DELETE CASCADE
      ) STRICT;

      CREATE INDEX key_rotations_by_key ON key_rotations (key_id, rotation_date, version_id);

      CREATE TABLE key_rotation_schedules (
        key_id           TEXT    NOT NULL PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
        enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        period_days      INTEGER NOT NULL CHECK (period_days > 0),
        next_rotation_at INTEGER,
        CHECK (enabled = 0 OR next_rotation_at IS NOT NULL)
      ) STRICT;

      -- The rotation scheduler's query: enabled schedules by next date.
      CREATE INDEX rotation_schedules_due ON key_rotation_schedules (next_rotation_at, key_id) WHERE enabled = 1;

      -- The deletion scheduler's query: pending keys by deletion date.
      CREATE INDEX keys_due_for_deletion ON keys (deletion_date, id) WHERE state = 'PendingDeletion';
    `,
  },
  {
    version: 3,
    name: 'key policies and grants',
    // Keys created before this step get no policy row: getKeyPolicy answers undefined for them and
    // the caller applies the AWS default key policy (no placeholder document is invented here).
    sql: `
      -- A key's one policy ("default"), the document exactly as given.
      CREATE TABLE key_policies (
        key_id TEXT NOT NULL PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
        policy TEXT NOT NULL
      ) STRICT;

      -- Grants (AWS KMS CreateGrant). Ids and tokens are unique across keys; names are not.
      CREATE TABLE key_grants (
        grant_id           TEXT    NOT NULL PRIMARY KEY,
        key_id             TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
        account            TEXT    NOT NULL,
        name               TEXT,
        grantee_principal  TEXT    NOT NULL,
        retiring_principal TEXT,
        operations         TEXT    NOT NULL CHECK (json_valid(operations) AND json_type(operations) = 'array'),
        constraints        TEXT    CHECK (constraints IS NULL OR json_type(constraints) = 'object'),
        issuing_account    TEXT    NOT NULL,
        created_at         INTEGER NOT NULL,
        grant_token        TEXT    NOT NULL UNIQUE
      ) STRICT;

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
    version: 4,
    name: 'audit ledger: entries, their keys and accounts, signed checkpoints',
    // Issue 6. `canonical` and `hash` are the record (what the chain covers and the export shows);
    // the other entry columns copy entry fields so that ListAuditEvents can filter through indexes.
    // The triggers stop accidental UPDATE and DELETE; they do not stop someone who can drop them —
    // the chain and the signed checkpoints are what make such edits visible.
    sql: `
      CREATE TABLE ledger_entries (
        seq               INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 1),
        canonical         TEXT    NOT NULL,
        hash              BLOB    NOT NULL CHECK (length(hash) = 32),
        time              INTEGER NOT NULL,
        request_id        TEXT    NOT NULL,
        operation         TEXT    NOT NULL,
        principal_arn     TEXT,
        principal_account TEXT,
        outcome           TEXT    NOT NULL,
        kind              TEXT    NOT NULL CHECK (kind IN ('request', 'background'))
      ) STRICT;

      CREATE INDEX ledger_entries_by_time ON ledger_entries (time, seq);
      CREATE INDEX ledger_entries_by_principal ON ledger_entries (principal_arn, seq);
      CREATE INDEX ledger_entries_by_operation ON ledger_entries (operation, seq);
      CREATE INDEX ledger_entries_by_outcome ON ledger_entries (outcome, seq);
      CREATE INDEX ledger_entries_by_request ON ledger_entries (request_id);

      -- The keys an entry names (keyArns), by key id, so a key is found under any of its ARNs.
      CREATE TABLE ledger_entry_keys (
        key_id  TEXT    NOT NULL,
        seq     INTEGER NOT NULL,
        key_arn TEXT    NOT NULL,
        account TEXT    NOT NULL,
        PRIMARY KEY (key_id, seq)
      ) STRICT, WITHOUT ROWID;

      -- Who may read an entry through ListAuditEvents: the caller's account and every key's account.
      CREATE TABLE ledger_entry_accounts (
        account TEXT    NOT NULL,
        seq     INTEGER NOT NULL,
        PRIMARY KEY (account, seq)
      ) STRICT, WITHOUT ROWID;

      -- time is the exact ISO 8601 text that was signed (checkpointPayload).
      CREATE TABLE ledger_checkpoints (
        seq       INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 1),
        hash      BLOB    NOT NULL CHECK (length(hash) = 32),
        time      TEXT    NOT NULL,
        signature BLOB    NOT NULL
      ) STRICT;

      CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_entry_keys_no_update BEFORE UPDATE ON ledger_entry_keys
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_entry_keys_no_delete BEFORE DELETE ON ledger_entry_keys
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_entry_accounts_no_update BEFORE UPDATE ON ledger_entry_accounts
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_entry_accounts_no_delete BEFORE DELETE ON ledger_entry_accounts
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
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
    name: 'audit ledger: the key index rows hold only the key id and the seq',
    // No query reads ledger_entry_keys.key_arn or .account (an entry's canonical JSON has its ARNs,
    // ledger_entry_accounts its readers), and the two copies made each key row ~100 bytes longer:
    // an append of 20 entries cost ~23 µs of the writer's CPU per entry with them, ~17 without
    // (the same inserts timed alone). The table is rebuilt, its rows copied in key order, and its
    // append-only triggers made again: ALTER TABLE … DROP COLUMN would leave the existing rows on
    // as many pages as before (100,000 rows: 15.2 MB before and after), the copy packs them (~1/3).
    // One process owns a SQLite file, so no writer of the version before runs beside this one.
    sql: `
      CREATE TABLE ledger_entry_keys_v6 (
        key_id  TEXT    NOT NULL,
        seq     INTEGER NOT NULL,
        PRIMARY KEY (key_id, seq)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO ledger_entry_keys_v6 (key_id, seq) SELECT key_id, seq FROM ledger_entry_keys ORDER BY key_id, seq;
      DROP TABLE ledger_entry_keys;
      ALTER TABLE ledger_entry_keys_v6 RENAME TO ledger_entry_keys;
      CREATE TRIGGER ledger_entry_keys_no_update BEFORE UPDATE ON ledger_entry_keys
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_entry_keys_no_delete BEFORE DELETE ON ledger_entry_keys
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
    `,
  },
  {
    version: 7,
    name: 'audit ledger: key rows wait in seq order before they join the key index',
    // An entry's key row used to go straight into ledger_entry_keys (key_id, seq): with keys used
    // evenly, every row lands on its own key's leaf, one more page in the WAL and again at the
    // checkpoint per entry (~20 µs of the writer's CPU per entry at 10,000 keys, bench/FINDINGS.md).
    // The row is now appended here, in seq order, in the same transaction as its entry; the writer
    // moves a key's waiting rows into the index in bulk once many have waited (sqlite-ledger-writer.ts),
    // so one leaf takes several rows at once. A key's rows in the index are always older than its
    // rows still waiting here, and a row may leave this table only once the index holds it.
    sql: `
      CREATE TABLE ledger_entry_keys_waiting (
        seq     INTEGER NOT NULL,
        key_id  TEXT    NOT NULL,
        PRIMARY KEY (seq, key_id)
      ) STRICT, WITHOUT ROWID;
      CREATE TRIGGER ledger_entry_keys_waiting_no_update BEFORE UPDATE ON ledger_entry_keys_waiting
        BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END;
      CREATE TRIGGER ledger_entry_keys_waiting_leaves_indexed BEFORE DELETE ON ledger_entry_keys_waiting
        WHEN NOT EXISTS (SELECT 1 FROM ledger_entry_keys WHERE key_id = OLD.key_id AND seq = OLD.seq)
        BEGIN SELECT RAISE(ABORT, 'a waiting key row leaves only once the key index holds it'); END;
    `,
  },
  {
    version: 8,
    name: 'key material intents',
    // A token object cannot share a transaction with the metadata naming it: the intent is recorded
    // before the object is made, so a crash between the two leaves a row the scheduler finds
    // (KeyMaterialIntentStore in src/ports/metadata-store.ts). Abandoned rows stay as tombstones.
    sql: `
      CREATE TABLE key_material_intents (
        version_id  TEXT    NOT NULL PRIMARY KEY,
        key_id      TEXT    NOT NULL,
        recorded_at INTEGER NOT NULL,
        state       TEXT    NOT NULL CHECK (state IN ('pending', 'abandoned', 'destroyed'))
      ) STRICT;
      CREATE INDEX key_material_intents_by_state ON key_material_intents (state, recorded_at, version_id);
    `,
  },
];

/**
 * Brings the database up to the last of `migrations`, applying only the missing steps, all in one
 * IMMEDIATE transaction: two processes opening the same file serialise here, and a failing step
 * leaves the schema exactly as it was. Returns the versions applied.
 */
export function applySqliteMigrations(db: Database, migrations: readonly Migration[]): number[] {
  migrations.forEach((migration, index) => {
    const previous = migrations[index - 1];
    if (previous && migration.version <= previous.version) {
      throw new Error(`migration ${migration.version} is out of order`);
    }
  });
  const migrate = db.transaction((): number[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT`);
    const applied = new Set(
      db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[],
    );
    const known = new Set(migrations.map((migration) => migration.version));
    const unknown = [...applied].filter((version) => !known.has(version));
    if (unknown.length > 0) {
      // A newer p11kms wrote this database; running older code against it could corrupt it.
      throw new Error(`database has schema versions this p11kms does not know: ${unknown.join(', ')}`);
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const pending = migrations.filter((migration) => !applied.has(migration.version));
    for (const migration of pending) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    }
    return pending.map((migration) => migration.version);
  });
  return migrate.immediate();
}
