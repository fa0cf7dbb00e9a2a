import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { KmsError, needs, validation } from '../../domain/errors.js';
import { isKeyId } from '../../domain/ids.js';
import type { KeyOrigin, KeyRecord, KeySpec, KeyState, KeyUsage, KeyVersion, Tag } from '../../domain/key.js';
import type { ListKeysQuery, MetadataStore, NewKey, Page } from '../../ports/metadata-store.js';
import { applySqliteMigrations, SQLITE_MIGRATIONS } from './migrations.js';

interface KeyRow {
  id: string;
  arn: string;
  account: string;
  key_spec: string;
  key_usage: string;
  origin: string;
  description: string;
  state: string;
  created_at: number;
  deletion_date: number | null;
  current_version_id: string;
}

interface VersionRow {
  id: string;
  key_id: string;
  created_at: number;
}

/** How long a writer waits for another process's lock before giving up with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The embedded MetadataStore: one SQLite file under the data directory (DESIGN.md, "Scaling out").
 * better-sqlite3 is synchronous: a read takes microseconds, a commit waits for its fsync (FULL).
 * Metadata writes are rare beside crypto calls, so they run inline; the methods are async so that
 * SQLite and PostgreSQL share one port and one contract suite.
 */
export class SqliteMetadataStore implements MetadataStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly insertNewKey: Database.Transaction<(newKey: NewKey) => void>;

  private constructor(private readonly db: Database.Database) {
    const s = (this.statements = prepareStatements(db));
    this.insertNewKey = db.transaction(({ key, version, tags }: NewKey) => {
      if (s.keyExists.get(key.id) !== undefined || s.versionExists.get(version.id) !== undefined) {
        throw new KmsError('AlreadyExistsException', `Key ${key.id} or its version already exists.`);
      }
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
    needs(Number.isInteger(limit) && limit >= 1, () => validation('Limit must be a positive integer.'));
    // One row beyond the page tells whether another page follows.
    const rows = (
      marker === undefined
        ? this.statements.firstKeys.all(account, limit + 1)
        : this.statements.keysAfter.all(account, ...decodeMarker(marker), limit + 1)
    ) as KeyRow[];
    const items = rows.slice(0, limit).map(toKeyRecord);
    const last = items[items.length - 1];
    return { items, nextMarker: rows.length > limit && last ? encodeMarker(last) : undefined };
  }

  async setKeyState(keyId: string, state: KeyState): Promise<KeyRecord | undefined> {
    const row = this.statements.setState.get(state, keyId) as KeyRow | undefined;
    return row && toKeyRecord(row);
  }

  async listTags(keyId: string): Promise<Tag[]> {
    return (this.statements.listTags.all(keyId) as { tag_key: string; tag_value: string }[]).map((row) => ({
      tagKey: row.tag_key,
      tagValue: row.tag_value,
    }));
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
    getKey: statement('SELECT * FROM keys WHERE id = ?'),
    getVersion: statement('SELECT * FROM key_versions WHERE key_id = ? AND id = ?'),
    listVersions: statement('SELECT * FROM key_versions WHERE key_id = ? ORDER BY created_at, id'),
    firstKeys: statement('SELECT * FROM keys WHERE account = ? ORDER BY created_at, id LIMIT ?'),
    keysAfter: statement(`SELECT * FROM keys WHERE account = ? AND (created_at, id) > (?, ?)
      ORDER BY created_at, id LIMIT ?`),
    setState: statement('UPDATE keys SET state = ? WHERE id = ? RETURNING *'),
    listTags: statement('SELECT tag_key, tag_value FROM key_tags WHERE key_id = ? ORDER BY tag_key'),
  };
}

function toKeyRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    arn: row.arn,
    account: row.account,
    keySpec: row.key_spec as KeySpec,
    keyUsage: row.key_usage as KeyUsage,
    origin: row.origin as KeyOrigin,
    description: row.description,
    state: row.state as KeyState,
    createdAt: new Date(row.created_at),
    deletionDate: row.deletion_date === null ? undefined : new Date(row.deletion_date),
    currentVersionId: row.current_version_id,
  };
}

function toKeyVersion(row: VersionRow): KeyVersion {
  return { id: row.id, keyId: row.key_id, createdAt: new Date(row.created_at) };
}

/**
 * The marker is the position after the last key returned, `v1:<createdAtMs>:<keyId>` in base64url.
 * A position, not a row reference, so a page still continues correctly if that key is gone.
 */
function encodeMarker(last: KeyRecord): string {
  return Buffer.from(`v1:${last.createdAt.getTime()}:${last.id}`, 'utf8').toString('base64url');
}

const MARKER = /^v1:(-?(?:0|[1-9]\d{0,15})):(.+)$/s;

function decodeMarker(marker: string): [createdAt: number, id: string] {
  // Buffer.from skips characters that are not base64url, so re-encode to reject altered markers.
  const text = Buffer.from(marker, 'base64url').toString('utf8');
  const match = MARKER.exec(text);
  const createdAt = Number(match?.[1]);
  const keyId = match?.[2];
  if (
    keyId === undefined ||
    !isKeyId(keyId) ||
    !Number.isSafeInteger(createdAt) ||
    Buffer.from(text, 'utf8').toString('base64url') !== marker
  ) {
    throw new KmsError('InvalidMarkerException', 'The Marker is not valid; pass the NextMarker of a previous response.');
  }
  return [createdAt, keyId];
}
