import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { KmsError } from '../../domain/errors.js';
import { isKeyId } from '../../domain/ids.js';
import type { KeyRecord, KeyState, KeyVersion, Tag } from '../../domain/key.js';
import {
  MAX_TAGS_PER_KEY,
  type ListKeysQuery,
  type MetadataStore,
  type NewKey,
  type Page,
} from '../../ports/metadata-store.js';
import { decodeListMarker, pageOfRows, requirePageLimit } from './list-markers.js';
import { applySqliteMigrations, SQLITE_MIGRATIONS } from './migrations.js';
import { AreaDelegatingStore, type StoreAreas } from './area-delegating-store.js';
import { SqliteAliases } from './sqlite-aliases.js';
import { SqliteKeyDeletion } from './sqlite-deletion.js';
import { intentTaker, SqliteKeyMaterial } from './sqlite-key-material.js';
import { SqliteGrants } from './sqlite-grants.js';
import { SqliteKeyPolicies } from './sqlite-policies.js';
import { SqliteKeyRotation } from './sqlite-rotation.js';
import { KeyRowReader, keyNotFound, toKeyRecord, toKeyVersion, type KeyRow, type VersionRow } from './sqlite-rows.js';

/** How long a writer waits for another process's lock before giving up with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The embedded MetadataStore: one SQLite file under the data directory (DESIGN.md, "Scaling out").
 * better-sqlite3 is synchronous: a read takes microseconds, a commit waits for its fsync (FULL).
 * Metadata writes are rare beside crypto calls, so they run inline; the methods are async so that
 * SQLite and PostgreSQL share one port and one contract suite.
 *
 * Keys, versions, descriptions and tags live here; aliases, rotation, scheduled deletion, key
 * policies and grants in the sibling sqlite-*.ts files, each owning its statements over the same
 * connection.
 */
interface SqliteAreas extends StoreAreas {
  readonly policies: SqliteKeyPolicies;
}

export class SqliteMetadataStore extends AreaDelegatingStore<SqliteAreas> implements MetadataStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly insertNewKey: Database.Transaction<(newKey: NewKey) => void>;
  private readonly upsertTags: Database.Transaction<(keyId: string, tags: readonly Tag[]) => void>;
  private readonly deleteTags: Database.Transaction<(keyId: string, tagKeys: readonly string[]) => void>;

  private constructor(private readonly db: Database.Database) {
    super({
      aliases: new SqliteAliases(db),
      rotation: new SqliteKeyRotation(db),
      deletion: new SqliteKeyDeletion(db),
      keyMaterial: new SqliteKeyMaterial(db),
      policies: new SqliteKeyPolicies(db),
      grants: new SqliteGrants(db),
    });
    const s = (this.statements = prepareStatements(db));
    const keys = new KeyRowReader(db);
    const policies = this.areas.policies;
    const takeIntent = intentTaker(db);
    this.insertNewKey = db.transaction(({ key, version, tags, policy }: NewKey) => {
      if (s.keyExists.get(key.id) !== undefined || s.versionExists.get(version.id) !== undefined) {
        throw new KmsError('AlreadyExistsException', `Key ${key.id} or its version already exists.`);
      }
      takeIntent(version.id);
      s.insertKey.run({
        id: key.id,
        arn: key.arn,
        account: key.account,
        key_spec: key.keySpec,
        key_usage: key.keyUsage,
        origin: key.origin,
        description: key.description,
        state: key.state,
        created_at: key.createdAt.getTime(),
        deletion_date: key.deletionDate?.getTime() ?? null,
        current_version_id: key.currentVersionId,
      });
      s.insertVersion.run(version.id, version.keyId, version.createdAt.getTime());
      for (const tag of tags) s.insertTag.run(key.id, tag.tagKey, tag.tagValue);
      policies.insertForNewKey(key.id, policy);
    });
    this.upsertTags = db.transaction((keyId: string, tags: readonly Tag[]) => {
      keys.get(keyId);
      for (const tag of tags) s.upsertTag.run(keyId, tag.tagKey, tag.tagValue);
      // Counted after the upserts: replacing a value adds no tag. Throwing rolls them all back.
      const count = s.countTags.get(keyId) as number;
      if (count > MAX_TAGS_PER_KEY) {
        throw new KmsError(
          'TagException',
          `LimitExceeded: a key can have at most ${MAX_TAGS_PER_KEY} tags; this request would give it ${count}.`,
        );
      }
    });
    this.deleteTags = db.transaction((keyId: string, tagKeys: readonly string[]) => {
      keys.get(keyId);
      for (const tagKey of tagKeys) s.deleteTag.run(keyId, tagKey);
    });
  }

  static open(path: string): SqliteMetadataStore {
    const db = new Database(path);
    try {
      // WAL lets readers run beside the writer; FULL makes every commit durable across power loss
      // (NORMAL may lose the last commits, which would un-create a key whose material exists).
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      applySqliteMigrations(db, SQLITE_MIGRATIONS);
      return new SqliteMetadataStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async createKey(newKey: NewKey): Promise<void> {
    // IMMEDIATE: the existence checks and the inserts hold the write lock together.
    this.insertNewKey.immediate(newKey);
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const row = this.statements.getKey.get(keyId) as KeyRow | undefined;
    return row && toKeyRecord(row);
  }

  async getKeyVersion(keyId: string, versionId: string): Promise<KeyVersion | undefined> {
    const row = this.statements.getVersion.get(keyId, versionId) as VersionRow | undefined;
    return row && toKeyVersion(row);
  }

  async listKeyVersions(keyId: string): Promise<KeyVersion[]> {
    return (this.statements.listVersions.all(keyId) as VersionRow[]).map(toKeyVersion);
  }

  async listKeys({ account, limit, marker }: ListKeysQuery): Promise<Page<KeyRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isKeyId);
    // One row beyond the page tells whether another page follows.
    const rows = (
      after === undefined
        ? this.statements.firstKeys.all(account, limit + 1)
        : this.statements.keysAfter.all(account, after.at, after.id, limit + 1)
    ) as KeyRow[];
    return pageOfRows(rows, limit, toKeyRecord, (key) => ({ at: key.createdAt.getTime(), id: key.id }));
  }

  async setKeyState(keyId: string, state: KeyState): Promise<KeyRecord | undefined> {
    const row = this.statements.setState.get(state, keyId) as KeyRow | undefined;
    return row && toKeyRecord(row);
  }

  async updateDescription(keyId: string, description: string): Promise<KeyRecord> {
    const row = this.statements.setDescription.get(description, keyId) as KeyRow | undefined;
    if (row === undefined) throw keyNotFound(keyId);
    return toKeyRecord(row);
  }

  async listTags(keyId: string): Promise<Tag[]> {
    return (this.statements.listTags.all(keyId) as { tag_key: string; tag_value: string }[]).map((row) => ({
      tagKey: row.tag_key,
      tagValue: row.tag_value,
    }));
  }

  async tagResource(keyId: string, tags: readonly Tag[]): Promise<void> {
    this.upsertTags.immediate(keyId, tags);
  }

  async untagResource(keyId: string, tagKeys: readonly string[]): Promise<void> {
    this.deleteTags.immediate(keyId, tagKeys);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function prepareStatements(db: Database.Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    keyExists: statement('SELECT 1 FROM keys WHERE id = ?'),
    versionExists: statement('SELECT 1 FROM key_versions WHERE id = ?'),
    insertKey: statement(`INSERT INTO keys
      (id, arn, account, key_spec, key_usage, origin, description, state, created_at, deletion_date, current_version_id)
      VALUES (:id, :arn, :account, :key_spec, :key_usage, :origin, :description, :state, :created_at,
              :deletion_date, :current_version_id)`),
    insertVersion: statement('INSERT INTO key_versions (id, key_id, created_at) VALUES (?, ?, ?)'),
    insertTag: statement('INSERT INTO key_tags (key_id, tag_key, tag_value) VALUES (?, ?, ?)'),
    upsertTag: statement(`INSERT INTO key_tags (key_id, tag_key, tag_value) VALUES (?, ?, ?)
      ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`),
    deleteTag: statement('DELETE FROM key_tags WHERE key_id = ? AND tag_key = ?'),
    countTags: statement('SELECT count(*) FROM key_tags WHERE key_id = ?').pluck(),
    getKey: statement('SELECT * FROM keys WHERE id = ?'),
    getVersion: statement('SELECT * FROM key_versions WHERE key_id = ? AND id = ?'),
    listVersions: statement('SELECT * FROM key_versions WHERE key_id = ? ORDER BY created_at, id'),
    firstKeys: statement('SELECT * FROM keys WHERE account = ? ORDER BY created_at, id LIMIT ?'),
    keysAfter: statement(`SELECT * FROM keys WHERE account = ? AND (created_at, id) > (?, ?)
      ORDER BY created_at, id LIMIT ?`),
    setState: statement('UPDATE keys SET state = ? WHERE id = ? RETURNING *'),
    setDescription: statement('UPDATE keys SET description = ? WHERE id = ? RETURNING *'),
    listTags: statement('SELECT tag_key, tag_value FROM key_tags WHERE key_id = ? ORDER BY tag_key'),
  };
}
