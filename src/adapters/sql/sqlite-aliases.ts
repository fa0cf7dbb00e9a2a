import type { Database, Statement } from 'better-sqlite3';
import { KmsError, notFound } from '../../domain/errors.js';
import type { AliasRecord, AliasStore, ListAliasesQuery, NewAlias, Page } from '../../ports/metadata-store.js';
import { decodeListMarker, pageOfRows, requirePageLimit } from './list-markers.js';
import { keyNotFound } from './sqlite-rows.js';

interface AliasRow {
  account: string;
  alias_name: string;
  key_id: string;
  created_at: number;
  last_updated_at: number;
}

const aliasNotFound = (aliasName: string) => notFound(`Alias ${aliasName} is not found.`);

/** Aliases in SQLite (the `aliases` table, migration 2). */
export class SqliteAliases implements AliasStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly insert: (alias: NewAlias) => AliasRow;
  private readonly retarget: (account: string, aliasName: string, keyId: string, now: Date) => AliasRow;

  constructor(db: Database) {
    const s = (this.statements = prepareStatements(db));
    // IMMEDIATE: each check holds the write lock with the write it guards.
    const insert = db.transaction((alias: NewAlias): AliasRow => {
      if (s.keyInAccount.get(alias.keyId, alias.account) === undefined) throw keyNotFound(alias.keyId);
      if (s.get.get(alias.account, alias.aliasName) !== undefined) {
        throw new KmsError('AlreadyExistsException', `An alias with the name ${alias.aliasName} already exists.`);
      }
      const at = alias.createdAt.getTime();
      return s.insert.get(alias.account, alias.aliasName, alias.keyId, at, at) as AliasRow;
    });
    const retarget = db.transaction((account: string, aliasName: string, keyId: string, now: Date): AliasRow => {
      if (s.get.get(account, aliasName) === undefined) throw aliasNotFound(aliasName);
      if (s.keyInAccount.get(keyId, account) === undefined) throw keyNotFound(keyId);
      return s.retarget.get(keyId, now.getTime(), account, aliasName) as AliasRow;
    });
    this.insert = (alias) => insert.immediate(alias);
    this.retarget = (...args) => retarget.immediate(...args);
  }

  async createAlias(alias: NewAlias): Promise<AliasRecord> {
    return toAliasRecord(this.insert(alias));
  }

  async updateAlias(account: string, aliasName: string, keyId: string, now: Date): Promise<AliasRecord> {
    return toAliasRecord(this.retarget(account, aliasName, keyId, now));
  }

  async deleteAlias(account: string, aliasName: string): Promise<boolean> {
    return this.statements.delete.run(account, aliasName).changes > 0;
  }

  async getAlias(account: string, aliasName: string): Promise<AliasRecord | undefined> {
    const row = this.statements.get.get(account, aliasName) as AliasRow | undefined;
    return row && toAliasRecord(row);
  }

  async listAliases({ account, keyId, limit, marker }: ListAliasesQuery): Promise<Page<AliasRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isAliasName);
    // One row beyond the page tells whether another page follows.
    const rows = this.statements.list.all({
      account,
      key_id: keyId ?? null,
      after_at: after?.at ?? null,
      after_name: after?.id ?? null,
      limit: limit + 1,
    }) as AliasRow[];
    return pageOfRows(rows, limit, toAliasRecord, (alias) => ({ at: alias.createdAt.getTime(), id: alias.aliasName }));
  }

  async listAliasesForKey(keyId: string): Promise<AliasRecord[]> {
    return (this.statements.listForKey.all(keyId) as AliasRow[]).map(toAliasRecord);
  }
}

/** A marker's position must name a possible alias (AWS KMS AliasName grammar), else it was not ours. */
const isAliasName = (value: string): boolean => /^alias\/[a-zA-Z0-9:/_-]{1,256}$/.test(value);

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    keyInAccount: statement('SELECT 1 FROM keys WHERE id = ? AND account = ?'),
    get: statement('SELECT * FROM aliases WHERE account = ? AND alias_name = ?'),
    insert: statement(`INSERT INTO aliases (account, alias_name, key_id, created_at, last_updated_at)
      VALUES (?, ?, ?, ?, ?) RETURNING *`),
    retarget: statement(`UPDATE aliases SET key_id = ?, last_updated_at = ?
      WHERE account = ? AND alias_name = ? RETURNING *`),
    delete: statement('DELETE FROM aliases WHERE account = ? AND alias_name = ?'),
    list: statement(`SELECT * FROM aliases
      WHERE account = :account
        AND (:key_id IS NULL OR key_id = :key_id)
        AND (:after_at IS NULL OR (created_at, alias_name) > (:after_at, :after_name))
      ORDER BY created_at, alias_name LIMIT :limit`),
    listForKey: statement('SELECT * FROM aliases WHERE key_id = ? ORDER BY created_at, alias_name'),
  };
}

function toAliasRecord(row: AliasRow): AliasRecord {
  return {
    aliasName: row.alias_name,
    account: row.account,
    keyId: row.key_id,
    createdAt: new Date(row.created_at),
    lastUpdatedAt: new Date(row.last_updated_at),
  };
}
