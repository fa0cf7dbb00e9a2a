import type { Database, Statement } from 'better-sqlite3';
import { KmsError, needs, validation } from '../../domain/errors.js';
import {
  GRANT_ID_PATTERN,
  type GrantLimits,
  type GrantRecord,
  type GrantStore,
  type ListGrantsQuery,
  type Page,
  type PageQuery,
} from '../../ports/metadata-store.js';
import { constraintsToJson, isGrantId, sameGrantParameters } from './grant-records.js';
import { decodeListMarker, pageOfRows, requirePageLimit } from './list-markers.js';
import { keyNotFound } from './sqlite-rows.js';

/** A `key_grants` row; `operations` and `constraints` are JSON text, times epoch milliseconds. */
interface GrantRow {
  grant_id: string;
  key_id: string;
  account: string;
  name: string | null;
  grantee_principal: string;
  retiring_principal: string | null;
  operations: string;
  constraints: string | null;
  issuing_account: string;
  created_at: number;
  grant_token: string;
}

/** Grants in SQLite (the `key_grants` table, migration 3); the rules are documented on GrantStore. */
export class SqliteGrants implements GrantStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly create: (grant: GrantRecord, limits: GrantLimits) => GrantRecord;

  constructor(db: Database) {
    const s = (this.statements = prepareStatements(db));
    const create = db.transaction((grant: GrantRecord, { maxGrantsPerKey }: GrantLimits): GrantRecord => {
      // Markers carry the grant id and accept only this form; a caller mints ids with it.
      needs(GRANT_ID_PATTERN.test(grant.grantId), () => validation(`Grant id ${grant.grantId} is not 64 hex digits.`));
      needs(Number.isSafeInteger(maxGrantsPerKey) && maxGrantsPerKey >= 1, () =>
        validation('maxGrantsPerKey must be a positive integer.'),
      );
      if (s.keyInAccount.get(grant.keyId, grant.account) === undefined) throw keyNotFound(grant.keyId);
      if (grant.name !== undefined) {
        // CreateGrant's Name: a retry with identical parameters gets the grant it already made.
        const rows = s.byName.all(grant.keyId, grant.name) as GrantRow[];
        const retried = rows.map(toGrantRecord).find((existing) => sameGrantParameters(existing, grant));
        if (retried) return retried;
      }
      if (s.grantExists.get(grant.grantId) !== undefined || s.tokenExists.get(grant.grantToken) !== undefined) {
        throw new KmsError('AlreadyExistsException', `Grant ${grant.grantId} or its grant token already exists.`);
      }
      // Counted under the write lock (IMMEDIATE), so no concurrent CreateGrant can slip past it.
      const count = s.countForKey.get(grant.keyId) as number;
      if (count >= maxGrantsPerKey) {
        throw new KmsError(
          'LimitExceededException',
          `Key ${grant.keyId} has reached its limit of ${maxGrantsPerKey} grants.`,
        );
      }
      return toGrantRecord(
        s.insert.get({
          grant_id: grant.grantId,
          key_id: grant.keyId,
          account: grant.account,
          name: grant.name ?? null,
          grantee_principal: grant.granteePrincipal,
          retiring_principal: grant.retiringPrincipal ?? null,
          operations: JSON.stringify(grant.operations),
          constraints: constraintsToJson(grant.constraints),
          issuing_account: grant.issuingAccount,
          created_at: grant.createdAt.getTime(),
          grant_token: grant.grantToken,
        }) as GrantRow,
      );
    });
    this.create = (grant, limits) => create.immediate(grant, limits);
  }

  async createGrant(grant: GrantRecord, limits: GrantLimits): Promise<GrantRecord> {
    return this.create(grant, limits);
  }

  async findGrantsByName(keyId: string, name: string): Promise<GrantRecord[]> {
    return (this.statements.byName.all(keyId, name) as GrantRow[]).map(toGrantRecord);
  }

  async getGrant(keyId: string, grantId: string): Promise<GrantRecord | undefined> {
    const row = this.statements.get.get(keyId, grantId) as GrantRow | undefined;
    return row && toGrantRecord(row);
  }

  async getGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const row = this.statements.byToken.get(grantToken) as GrantRow | undefined;
    return row && toGrantRecord(row);
  }

  async grantsForKey(keyId: string): Promise<GrantRecord[]> {
    return (this.statements.forKey.all(keyId) as GrantRow[]).map(toGrantRecord);
  }

  async listGrants(keyId: string, { grantId, granteePrincipal, limit, marker }: ListGrantsQuery): Promise<Page<GrantRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isGrantId);
    const filters = { key_id: keyId, grant_id: grantId ?? null, grantee: granteePrincipal ?? null, limit: limit + 1 };
    // One row beyond the page tells whether another page follows.
    const rows = (
      after === undefined
        ? this.statements.firstGrants.all(filters)
        : this.statements.grantsAfter.all({ ...filters, after_at: after.at, after_id: after.id })
    ) as GrantRow[];
    return pageOfRows(rows, limit, toGrantRecord, positionOf);
  }

  async listRetirableGrants(retiringPrincipal: string, { limit, marker }: PageQuery): Promise<Page<GrantRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isGrantId);
    const rows = (
      after === undefined
        ? this.statements.firstRetirable.all(retiringPrincipal, limit + 1)
        : this.statements.retirableAfter.all(retiringPrincipal, after.at, after.id, limit + 1)
    ) as GrantRow[];
    return pageOfRows(rows, limit, toGrantRecord, positionOf);
  }

  async deleteGrant(keyId: string, grantId: string): Promise<boolean> {
    return this.statements.delete.run(keyId, grantId).changes > 0;
  }
}

const positionOf = (grant: GrantRecord) => ({ at: grant.createdAt.getTime(), id: grant.grantId });

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  const ORDER = 'ORDER BY created_at, grant_id';
  const LIST_FILTERS = `AND (:grant_id IS NULL OR grant_id = :grant_id)
    AND (:grantee IS NULL OR grantee_principal = :grantee)`;
  return {
    keyInAccount: statement('SELECT 1 FROM keys WHERE id = ? AND account = ?'),
    grantExists: statement('SELECT 1 FROM key_grants WHERE grant_id = ?'),
    tokenExists: statement('SELECT 1 FROM key_grants WHERE grant_token = ?'),
    countForKey: statement('SELECT count(*) FROM key_grants WHERE key_id = ?').pluck(),
    insert: statement(`INSERT INTO key_grants (grant_id, key_id, account, name, grantee_principal, retiring_principal,
        operations, constraints, issuing_account, created_at, grant_token)
      VALUES (:grant_id, :key_id, :account, :name, :grantee_principal, :retiring_principal,
        :operations, :constraints, :issuing_account, :created_at, :grant_token)
      RETURNING *`),
    byName: statement(`SELECT * FROM key_grants WHERE key_id = ? AND name = ? ${ORDER}`),
    get: statement('SELECT * FROM key_grants WHERE key_id = ? AND grant_id = ?'),
    byToken: statement('SELECT * FROM key_grants WHERE grant_token = ?'),
    forKey: statement(`SELECT * FROM key_grants WHERE key_id = ? ${ORDER}`),
    // A later page starts with an index range seek, not a walk over the pages before it (a key
    // may hold 50,000 grants); hence separate statements for the first page and the next ones.
    firstGrants: statement(`SELECT * FROM key_grants WHERE key_id = :key_id ${LIST_FILTERS} ${ORDER} LIMIT :limit`),
    grantsAfter: statement(`SELECT * FROM key_grants
      WHERE key_id = :key_id AND (created_at, grant_id) > (:after_at, :after_id) ${LIST_FILTERS} ${ORDER} LIMIT :limit`),
    firstRetirable: statement(`SELECT * FROM key_grants WHERE retiring_principal = ? ${ORDER} LIMIT ?`),
    retirableAfter: statement(`SELECT * FROM key_grants
      WHERE retiring_principal = ? AND (created_at, grant_id) > (?, ?) ${ORDER} LIMIT ?`),
    delete: statement('DELETE FROM key_grants WHERE key_id = ? AND grant_id = ?'),
  };
}

/** Absent optional fields stay absent, so a record reads back exactly as it was created. */
function toGrantRecord(row: GrantRow): GrantRecord {
  return {
    grantId: row.grant_id,
    keyId: row.key_id,
    account: row.account,
    ...(row.name === null ? {} : { name: row.name }),
    granteePrincipal: row.grantee_principal,
    ...(row.retiring_principal === null ? {} : { retiringPrincipal: row.retiring_principal }),
    operations: JSON.parse(row.operations) as string[],
    ...(row.constraints === null ? {} : { constraints: JSON.parse(row.constraints) as GrantRecord['constraints'] }),
    issuingAccount: row.issuing_account,
    createdAt: new Date(row.created_at),
    grantToken: row.grant_token,
  };
}
