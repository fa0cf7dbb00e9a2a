import type { Database, Statement } from 'better-sqlite3';
import type { KeyPolicyStore } from '../../ports/metadata-store.js';
import { KeyRowReader } from './sqlite-rows.js';

/**
 * Key policies in SQLite (the `key_policies` table, migration 3): one row per key, the document in
 * a TEXT column exactly as given. Keys created before migration 3 have no row until a PutKeyPolicy.
 */
export class SqliteKeyPolicies implements KeyPolicyStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly put: (keyId: string, policy: string) => void;

  constructor(db: Database) {
    const s = (this.statements = prepareStatements(db));
    const keys = new KeyRowReader(db);
    const put = db.transaction((keyId: string, policy: string) => {
      keys.get(keyId);
      s.upsert.run(keyId, policy);
    });
    // IMMEDIATE: the key's existence is checked under the write lock that stores its policy.
    this.put = (keyId, policy) => put.immediate(keyId, policy);
  }

  /** The first policy of a new key; runs inside createKey's transaction. */
  insertForNewKey(keyId: string, policy: string): void {
    this.statements.insert.run(keyId, policy);
  }

  async getKeyPolicy(keyId: string): Promise<string | undefined> {
    return this.statements.get.get(keyId) as string | undefined;
  }

  async putKeyPolicy(keyId: string, policy: string): Promise<void> {
    this.put(keyId, policy);
  }
}

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    get: statement('SELECT policy FROM key_policies WHERE key_id = ?').pluck(),
    insert: statement('INSERT INTO key_policies (key_id, policy) VALUES (?, ?)'),
    upsert: statement(`INSERT INTO key_policies (key_id, policy) VALUES (?, ?)
      ON CONFLICT (key_id) DO UPDATE SET policy = excluded.policy`),
  };
}
