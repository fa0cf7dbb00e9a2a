import type { Pool, PoolClient } from 'pg';
import type { KeyPolicyStore } from '../../ports/metadata-store.js';
import { inTransaction, lockExistingKey } from './postgres-rows.js';

/**
 * Key policies in PostgreSQL (the `key_policies` table, migration 2): one row per key, the
 * document's UTF-8 bytes exactly as given, so GetKeyPolicy returns it byte for byte.
 */
export class PostgresKeyPolicies implements KeyPolicyStore {
  constructor(private readonly pool: Pool) {}

  /** The first policy of a new key; runs inside createKey's transaction. */
  static async insertForNewKey(tx: PoolClient, keyId: string, policy: string): Promise<void> {
    await tx.query('INSERT INTO key_policies (key_id, policy) VALUES ($1, $2)', [keyId, Buffer.from(policy, 'utf8')]);
  }

  async getKeyPolicy(keyId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ policy: Buffer }>('SELECT policy FROM key_policies WHERE key_id = $1', [
      keyId,
    ]);
    return rows[0]?.policy.toString('utf8');
  }

  async putKeyPolicy(keyId: string, policy: string): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      // The key's lock: a deletion of the key cannot interleave with storing its policy.
      await lockExistingKey(tx, keyId);
      await tx.query(
        `INSERT INTO key_policies (key_id, policy) VALUES ($1, $2)
         ON CONFLICT (key_id) DO UPDATE SET policy = excluded.policy`,
        [keyId, Buffer.from(policy, 'utf8')],
      );
    });
  }
}
