import type { Pool } from 'pg';
import { KmsError, needs, validation } from '../../domain/errors.js';
import {
  GRANT_ID_PATTERN,
  type GrantConstraintsRecord,
  type GrantLimits,
  type GrantRecord,
  type GrantStore,
  type ListGrantsQuery,
  type Page,
  type PageQuery,
} from '../../ports/metadata-store.js';
import { constraintsToJson, isGrantId, sameGrantParameters } from './grant-records.js';
import { decodeListMarker, pageOfRows, requirePageLimit } from './list-markers.js';
import { alreadyExistsOn, inTransaction, keyNotFound, lockKey } from './postgres-rows.js';

/** A `key_grants` row; pg parses the json columns, and times arrive as epoch-millisecond numbers. */
interface GrantRow {
  grant_id: string;
  key_id: string;
  account: string;
  name: string | null;
  grantee_principal: string;
  retiring_principal: string | null;
  operations: string[];
  constraints: GrantConstraintsRecord | null;
  issuing_account: string;
  created_at: number;
  grant_token: string;
}

const ORDER = 'ORDER BY created_at, grant_id';

/**
 * Grants in PostgreSQL (the `key_grants` table, migration 2); the rules are documented on
 * GrantStore and shared with SQLite through grant-records.ts. CreateGrant locks the key's row, so
 * the per-key limit and the retry-by-name check hold across connections and replicas.
 */
export class PostgresGrants implements GrantStore {
  constructor(private readonly pool: Pool) {}

  async createGrant(grant: GrantRecord, { maxGrantsPerKey }: GrantLimits): Promise<GrantRecord> {
    // Markers carry the grant id and accept only this form; a caller mints ids with it.
    needs(GRANT_ID_PATTERN.test(grant.grantId), () => validation(`Grant id ${grant.grantId} is not 64 hex digits.`));
    needs(Number.isSafeInteger(maxGrantsPerKey) && maxGrantsPerKey >= 1, () =>
      validation('maxGrantsPerKey must be a positive integer.'),
    );
    return inTransaction(this.pool, async (tx): Promise<GrantRecord> => {
      const key = await lockKey(tx, grant.keyId);
      if (key === undefined || key.account !== grant.account) throw keyNotFound(grant.keyId);
      if (grant.name !== undefined) {
        // CreateGrant's Name: a retry with identical parameters gets the grant it already made.
        const { rows } = await tx.query<GrantRow>(`SELECT * FROM key_grants WHERE key_id = $1 AND name = $2 ${ORDER}`, [
          grant.keyId,
          grant.name,
        ]);
        const retried = rows.map(toGrantRecord).find((existing) => sameGrantParameters(existing, grant));
        if (retried) return retried;
      }
      const message = `Grant ${grant.grantId} or its grant token already exists.`;
      const { rowCount } = await tx.query('SELECT 1 FROM key_grants WHERE grant_id = $1 OR grant_token = $2', [
        grant.grantId,
        grant.grantToken,
      ]);
      if (rowCount !== 0) throw new KmsError('AlreadyExistsException', message);
      // Counted under the key's lock, so no concurrent CreateGrant can slip past it.
      const { rows: counted } = await tx.query<{ count: number }>('SELECT count(*) FROM key_grants WHERE key_id = $1', [
        grant.keyId,
      ]);
      if ((counted[0]?.count ?? 0) >= maxGrantsPerKey) {
        throw new KmsError(
          'LimitExceededException',
          `Key ${grant.keyId} has reached its limit of ${maxGrantsPerKey} grants.`,
        );
      }
      // An id or token another key's CreateGrant is inserting right now still collides here.
      const { rows } = await tx
        .query<GrantRow>(
          `INSERT INTO key_grants (grant_id, key_id, account, name, grantee_principal, retiring_principal,
             operations, constraints, issuing_account, created_at, grant_token)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           RETURNING *`,
          [
            grant.grantId,
            grant.keyId,
            grant.account,
            grant.name ?? null,
            grant.granteePrincipal,
            grant.retiringPrincipal ?? null,
            JSON.stringify(grant.operations),
            constraintsToJson(grant.constraints),
            grant.issuingAccount,
            grant.createdAt.getTime(),
            grant.grantToken,
          ],
        )
        .catch(alreadyExistsOn(['key_grants_pkey', 'key_grants_grant_token_key'], message));
      return toGrantRecord(rows[0]!);
    });
  }

  async findGrantsByName(keyId: string, name: string): Promise<GrantRecord[]> {
    return this.select(`SELECT * FROM key_grants WHERE key_id = $1 AND name = $2 ${ORDER}`, [keyId, name]);
  }

  async getGrant(keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const [grant] = await this.select('SELECT * FROM key_grants WHERE key_id = $1 AND grant_id = $2', [keyId, grantId]);
    return grant;
  }

  async getGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const [grant] = await this.select('SELECT * FROM key_grants WHERE grant_token = $1', [grantToken]);
    return grant;
  }

  async grantsForKey(keyId: string): Promise<GrantRecord[]> {
    return this.select(`SELECT * FROM key_grants WHERE key_id = $1 ${ORDER}`, [keyId]);
  }

  async listGrants(
    keyId: string,
    { grantId, granteePrincipal, limit, marker }: ListGrantsQuery,
  ): Promise<Page<GrantRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isGrantId);
    // One row beyond the page tells whether another page follows.
    const { rows } = await this.pool.query<GrantRow>(
      `SELECT * FROM key_grants
       WHERE key_id = $1
         AND ($2::text IS NULL OR grant_id = $2)
         AND ($3::text IS NULL OR grantee_principal = $3)
         AND ($4::bigint IS NULL OR (created_at, grant_id) > ($4, $5))
       ${ORDER} LIMIT $6`,
      [keyId, grantId ?? null, granteePrincipal ?? null, after?.at ?? null, after?.id ?? null, limit + 1],
    );
    return pageOfRows(rows, limit, toGrantRecord, positionOf);
  }

  async listRetirableGrants(retiringPrincipal: string, { limit, marker }: PageQuery): Promise<Page<GrantRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isGrantId);
    const { rows } = await this.pool.query<GrantRow>(
      `SELECT * FROM key_grants
       WHERE retiring_principal = $1
         AND ($2::bigint IS NULL OR (created_at, grant_id) > ($2, $3))
       ${ORDER} LIMIT $4`,
      [retiringPrincipal, after?.at ?? null, after?.id ?? null, limit + 1],
    );
    return pageOfRows(rows, limit, toGrantRecord, positionOf);
  }

  async deleteGrant(keyId: string, grantId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM key_grants WHERE key_id = $1 AND grant_id = $2', [
      keyId,
      grantId,
    ]);
    return (rowCount ?? 0) > 0;
  }

  private async select(sql: string, values: unknown[]): Promise<GrantRecord[]> {
    const { rows } = await this.pool.query<GrantRow>(sql, values);
    return rows.map(toGrantRecord);
  }
}

const positionOf = (grant: GrantRecord) => ({ at: grant.createdAt.getTime(), id: grant.grantId });

/** Absent optional fields stay absent, so a record reads back exactly as it was created. */
function toGrantRecord(row: GrantRow): GrantRecord {
  return {
    grantId: row.grant_id,
    keyId: row.key_id,
    account: row.account,
    ...(row.name === null ? {} : { name: row.name }),
    granteePrincipal: row.grantee_principal,
    ...(row.retiring_principal === null ? {} : { retiringPrincipal: row.retiring_principal }),
    operations: row.operations,
    ...(row.constraints === null ? {} : { constraints: row.constraints }),
    issuingAccount: row.issuing_account,
    createdAt: new Date(row.created_at),
    grantToken: row.grant_token,
  };
}
