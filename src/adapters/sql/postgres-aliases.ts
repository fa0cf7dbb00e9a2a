import type { Pool, PoolClient } from 'pg';
import { KmsError, notFound } from '../../domain/errors.js';
import type { AliasRecord, AliasStore, ListAliasesQuery, NewAlias, Page } from '../../ports/metadata-store.js';
import { decodeListMarker, pageOfRows, requirePageLimit } from './list-markers.js';
import { inTransaction, keyNotFound } from './postgres-rows.js';

interface AliasRow {
  account: string;
  alias_name: string;
  key_id: string;
  created_at: number;
  last_updated_at: number;
}

const aliasNotFound = (aliasName: string) => notFound(`Alias ${aliasName} is not found.`);

/** Aliases in PostgreSQL (the `aliases` table); the same rules as SqliteAliases. */
export class PostgresAliases implements AliasStore {
  constructor(private readonly pool: Pool) {}

  async createAlias(alias: NewAlias): Promise<AliasRecord> {
    const row = await inTransaction(this.pool, async (tx) => {
      await requireKeyInAccount(tx, alias.keyId, alias.account);
      const at = alias.createdAt.getTime();
      // A concurrent insert of the same name makes this one wait for it, then do nothing.
      const { rows } = await tx.query<AliasRow>(
        `INSERT INTO aliases (account, alias_name, key_id, created_at, last_updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (account, alias_name) DO NOTHING RETURNING *`,
        [alias.account, alias.aliasName, alias.keyId, at],
      );
      if (rows[0] === undefined) {
        throw new KmsError('AlreadyExistsException', `An alias with the name ${alias.aliasName} already exists.`);
      }
      return rows[0];
    });
    return toAliasRecord(row);
  }

  async updateAlias(account: string, aliasName: string, keyId: string, now: Date): Promise<AliasRecord> {
    const row = await inTransaction(this.pool, async (tx) => {
      const { rowCount } = await tx.query('SELECT 1 FROM aliases WHERE account = $1 AND alias_name = $2', [
        account,
        aliasName,
      ]);
      if (rowCount === 0) throw aliasNotFound(aliasName);
      // The key before the alias, in the order deleteKeyMetadata locks them, so the two cannot deadlock.
      await requireKeyInAccount(tx, keyId, account);
      const { rows } = await tx.query<AliasRow>(
        `UPDATE aliases SET key_id = $1, last_updated_at = $2
         WHERE account = $3 AND alias_name = $4 RETURNING *`,
        [keyId, now.getTime(), account, aliasName],
      );
      // Gone meanwhile: a DeleteAlias, or the deletion of the key it named, committed first.
      if (rows[0] === undefined) throw aliasNotFound(aliasName);
      return rows[0];
    });
    return toAliasRecord(row);
  }

  async deleteAlias(account: string, aliasName: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM aliases WHERE account = $1 AND alias_name = $2', [
      account,
      aliasName,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async getAlias(account: string, aliasName: string): Promise<AliasRecord | undefined> {
    const { rows } = await this.pool.query<AliasRow>('SELECT * FROM aliases WHERE account = $1 AND alias_name = $2', [
      account,
      aliasName,
    ]);
    return rows[0] && toAliasRecord(rows[0]);
  }

  async listAliases({ account, keyId, limit, marker }: ListAliasesQuery): Promise<Page<AliasRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isAliasName);
    // One row beyond the page tells whether another page follows.
    const { rows } = await this.pool.query<AliasRow>(
      `SELECT * FROM aliases
       WHERE account = $1
         AND ($2::text IS NULL OR key_id = $2)
         AND ($3::bigint IS NULL OR (created_at, alias_name) > ($3, $4))
       ORDER BY created_at, alias_name LIMIT $5`,
      [account, keyId ?? null, after?.at ?? null, after?.id ?? null, limit + 1],
    );
    return pageOfRows(rows, limit, toAliasRecord, (alias) => ({ at: alias.createdAt.getTime(), id: alias.aliasName }));
  }

  async listAliasesForKey(keyId: string): Promise<AliasRecord[]> {
    const { rows } = await this.pool.query<AliasRow>(
      'SELECT * FROM aliases WHERE key_id = $1 ORDER BY created_at, alias_name',
      [keyId],
    );
    return rows.map(toAliasRecord);
  }
}

/**
 * NotFoundException unless the key exists in the account. FOR KEY SHARE keeps the key from being
 * deleted until the alias naming it commits, without queueing behind other writes to the key.
 */
async function requireKeyInAccount(tx: PoolClient, keyId: string, account: string): Promise<void> {
  const { rowCount } = await tx.query('SELECT 1 FROM keys WHERE id = $1 AND account = $2 FOR KEY SHARE', [
    keyId,
    account,
  ]);
  if (rowCount === 0) throw keyNotFound(keyId);
}

/** A marker's position must name a possible alias (AWS KMS AliasName grammar), else it was not ours. */
const isAliasName = (value: string): boolean => /^alias\/[a-zA-Z0-9:/_-]{1,256}$/.test(value);

function toAliasRecord(row: AliasRow): AliasRecord {
  return {
    aliasName: row.alias_name,
    account: row.account,
    keyId: row.key_id,
    createdAt: new Date(row.created_at),
    lastUpdatedAt: new Date(row.last_updated_at),
  };
}
