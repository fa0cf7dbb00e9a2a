import type { Pool } from 'pg';
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
import { AreaDelegatingStore, type StoreAreas } from './area-delegating-store.js';
import { PostgresAliases } from './postgres-aliases.js';
import { PostgresKeyDeletion } from './postgres-deletion.js';
import { PostgresGrants } from './postgres-grants.js';
import { PostgresKeyMaterial, takeIntent } from './postgres-key-material.js';
import { applyPostgresMigrations, POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { createPostgresPool, type PostgresTimeouts, withDependencyErrors } from './postgres-pool.js';
import { PostgresKeyPolicies } from './postgres-policies.js';
import { PostgresKeyRotation } from './postgres-rotation.js';
import {
  alreadyExistsOn,
  inTransaction,
  keyNotFound,
  lockExistingKey,
  toKeyRecord,
  toKeyVersion,
  type KeyRow,
  type VersionRow,
} from './postgres-rows.js';

export interface PostgresStoreOptions extends PostgresTimeouts {
  /** Connections the store's pool keeps at most; default 10. */
  readonly maxConnections?: number;
  /**
   * How long a request waits for a connection before failing (postgres-pool.ts has every
   * timeout's default). While PostgreSQL is unreachable, requests fail within these bounds with
   * DependencyTimeoutException instead of hanging.
   */
  readonly connectionTimeoutMs?: number;
  /**
   * Called when an idle pooled connection breaks (PostgreSQL restarted, network cut); the pool
   * drops it and opens another on demand. Without a listener such an error would end the process.
   */
  readonly onIdleConnectionError?: (error: Error) => void;
}

/**
 * The shared MetadataStore: PostgreSQL, for several replicas on one database (DESIGN.md,
 * "Scaling out"). Behaves exactly as SqliteMetadataStore (one contract suite): where SQLite takes
 * the database's write lock, this store locks the key's row (SELECT … FOR UPDATE) for the check
 * and the writes it guards, so quotas and state checks hold across connections and replicas.
 *
 * Keys, versions, descriptions and tags live here; aliases, rotation, scheduled deletion, key
 * policies and grants in the sibling postgres-*.ts files, each running its statements over the
 * same pool.
 */
export class PostgresMetadataStore extends AreaDelegatingStore<StoreAreas> implements MetadataStore {

  private constructor(private readonly pool: Pool) {
    super({
      aliases: new PostgresAliases(pool),
      rotation: new PostgresKeyRotation(pool),
      deletion: new PostgresKeyDeletion(pool),
      keyMaterial: new PostgresKeyMaterial(pool),
      policies: new PostgresKeyPolicies(pool),
      grants: new PostgresGrants(pool),
    });
  }

  /**
   * Connects and applies missing migrations (safe when several processes start at once). The
   * store answers DependencyTimeoutException whenever PostgreSQL is unreachable or too slow.
   */
  static async open(connectionString: string, options: PostgresStoreOptions = {}): Promise<PostgresMetadataStore> {
    const pool = createPostgresPool(connectionString, options);
    try {
      const client = await pool.connect();
      try {
        await applyPostgresMigrations(client, POSTGRES_MIGRATIONS);
      } finally {
        client.release();
      }
      return withDependencyErrors(new PostgresMetadataStore(pool));
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  async createKey({ key, version, tags, policy }: NewKey): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      // The primary keys are the existence checks: a concurrent insert of the same id waits for
      // this one to end, then fails on the same constraint.
      const duplicate = alreadyExistsOn(
        ['keys_pkey', 'key_versions_pkey', 'key_versions_key_id_id_key'],
        `Key ${key.id} or its version already exists.`,
      );
      await tx
        .query(
          `INSERT INTO keys (id, arn, account, key_spec, key_usage, origin, description, state, created_at,
             deletion_date, current_version_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            key.id,
            key.arn,
            key.account,
            key.keySpec,
            key.keyUsage,
            key.origin,
            key.description,
            key.state,
            key.createdAt.getTime(),
            key.deletionDate?.getTime() ?? null,
            key.currentVersionId,
          ],
        )
        .catch(duplicate);
      await tx
        .query('INSERT INTO key_versions (id, key_id, created_at) VALUES ($1, $2, $3)', [
          version.id,
          version.keyId,
          version.createdAt.getTime(),
        ])
        .catch(duplicate);
      if (tags.length > 0) {
        // Duplicate tag keys violate key_tags_pkey and roll the whole key back, as in SQLite.
        await tx.query(
          `INSERT INTO key_tags (key_id, tag_key, tag_value)
           SELECT $1, tag.key, tag.value FROM unnest($2::text[], $3::text[]) AS tag (key, value)`,
          [key.id, tags.map((tag) => tag.tagKey), tags.map((tag) => tag.tagValue)],
        );
      }
      await PostgresKeyPolicies.insertForNewKey(tx, key.id, policy);
      await takeIntent(tx, version.id);
    });
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const { rows } = await this.pool.query<KeyRow>('SELECT * FROM keys WHERE id = $1', [keyId]);
    return rows[0] && toKeyRecord(rows[0]);
  }

  async getKeyVersion(keyId: string, versionId: string): Promise<KeyVersion | undefined> {
    const { rows } = await this.pool.query<VersionRow>('SELECT * FROM key_versions WHERE key_id = $1 AND id = $2', [
      keyId,
      versionId,
    ]);
    return rows[0] && toKeyVersion(rows[0]);
  }

  async listKeyVersions(keyId: string): Promise<KeyVersion[]> {
    const { rows } = await this.pool.query<VersionRow>(
      'SELECT * FROM key_versions WHERE key_id = $1 ORDER BY created_at, id',
      [keyId],
    );
    return rows.map(toKeyVersion);
  }

  async listKeys({ account, limit, marker }: ListKeysQuery): Promise<Page<KeyRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isKeyId);
    // One row beyond the page tells whether another page follows.
    const { rows } = await this.pool.query<KeyRow>(
      `SELECT * FROM keys
       WHERE account = $1 AND ($2::bigint IS NULL OR (created_at, id) > ($2, $3))
       ORDER BY created_at, id LIMIT $4`,
      [account, after?.at ?? null, after?.id ?? null, limit + 1],
    );
    return pageOfRows(rows, limit, toKeyRecord, (key) => ({ at: key.createdAt.getTime(), id: key.id }));
  }

  async setKeyState(keyId: string, state: KeyState): Promise<KeyRecord | undefined> {
    const { rows } = await this.pool.query<KeyRow>('UPDATE keys SET state = $1 WHERE id = $2 RETURNING *', [
      state,
      keyId,
    ]);
    return rows[0] && toKeyRecord(rows[0]);
  }

  async updateDescription(keyId: string, description: string): Promise<KeyRecord> {
    const { rows } = await this.pool.query<KeyRow>('UPDATE keys SET description = $1 WHERE id = $2 RETURNING *', [
      description,
      keyId,
    ]);
    if (rows[0] === undefined) throw keyNotFound(keyId);
    return toKeyRecord(rows[0]);
  }

  async listTags(keyId: string): Promise<Tag[]> {
    const { rows } = await this.pool.query<{ tag_key: string; tag_value: string }>(
      'SELECT tag_key, tag_value FROM key_tags WHERE key_id = $1 ORDER BY tag_key',
      [keyId],
    );
    return rows.map((row) => ({ tagKey: row.tag_key, tagValue: row.tag_value }));
  }

  async tagResource(keyId: string, tags: readonly Tag[]): Promise<void> {
    // One upsert may not touch a row twice; the last value of a repeated tag key wins, as when
    // SQLite applies the tags one by one.
    const values = new Map(tags.map((tag) => [tag.tagKey, tag.tagValue]));
    await inTransaction(this.pool, async (tx) => {
      // The key's lock makes concurrent TagResource calls count one after the other.
      await lockExistingKey(tx, keyId);
      if (values.size === 0) return;
      await tx.query(
        `INSERT INTO key_tags (key_id, tag_key, tag_value)
         SELECT $1, tag.key, tag.value FROM unnest($2::text[], $3::text[]) AS tag (key, value)
         ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`,
        [keyId, [...values.keys()], [...values.values()]],
      );
      // Counted after the upsert: replacing a value adds no tag. Throwing rolls it back.
      const { rows } = await tx.query<{ count: number }>('SELECT count(*) FROM key_tags WHERE key_id = $1', [keyId]);
      const count = rows[0]?.count ?? 0;
      if (count > MAX_TAGS_PER_KEY) {
        throw new KmsError(
          'TagException',
          `LimitExceeded: a key can have at most ${MAX_TAGS_PER_KEY} tags; this request would give it ${count}.`,
        );
      }
    });
  }

  async untagResource(keyId: string, tagKeys: readonly string[]): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      await lockExistingKey(tx, keyId);
      await tx.query('DELETE FROM key_tags WHERE key_id = $1 AND tag_key = ANY ($2::text[])', [keyId, [...tagKeys]]);
    });
  }

  /** Ends the pool; a second call does nothing. */
  async close(): Promise<void> {
    if (this.pool.ended) return;
    await this.pool.end();
  }
}
