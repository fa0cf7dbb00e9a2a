import type { Pool, PoolClient } from 'pg';
import { KmsError } from '../../domain/errors.js';
import type { KeyMaterialIntent, KeyMaterialIntentStore } from '../../ports/metadata-store.js';
import { requirePageLimit } from './list-markers.js';
import { inTransaction } from './postgres-rows.js';
import { abandoned } from './sqlite-key-material.js';

interface IntentRow {
  version_id: string;
  key_id: string;
  recorded_at: number;
}

/**
 * Key material intents in PostgreSQL; the sequence they guard is documented on the port. The
 * scheduler's UPDATE to 'abandoned' and a CreateKey's take (takeIntent) both write the intent's
 * row, so one waits for the other and then sees its outcome: exactly one of them wins.
 */
export class PostgresKeyMaterial implements KeyMaterialIntentStore {
  constructor(private readonly pool: Pool) {}

  async recordKeyMaterialIntent({ versionId, keyId, recordedAt }: KeyMaterialIntent): Promise<void> {
    const inserted = await this.pool.query(
      `INSERT INTO key_material_intents (version_id, key_id, recorded_at, state)
       VALUES ($1, $2, $3, 'pending') ON CONFLICT (version_id) DO NOTHING`,
      [versionId, keyId, recordedAt.getTime()],
    );
    if (inserted.rowCount === 0) {
      throw new KmsError('AlreadyExistsException', `Key version ${versionId} already has key material recorded.`);
    }
  }

  async dropKeyMaterialIntent(versionId: string): Promise<void> {
    await this.pool.query("DELETE FROM key_material_intents WHERE version_id = $1 AND state = 'pending'", [versionId]);
  }

  async abandonKeyMaterialIntents(before: Date, limit: number): Promise<KeyMaterialIntent[]> {
    requirePageLimit(limit);
    const rows = await inTransaction(this.pool, async (tx) => {
      await tx.query(
        "UPDATE key_material_intents SET state = 'abandoned' WHERE state = 'pending' AND recorded_at < $1",
        [before.getTime()],
      );
      const { rows } = await tx.query<IntentRow>(
        `SELECT version_id, key_id, recorded_at FROM key_material_intents
         WHERE state = 'abandoned' ORDER BY recorded_at, version_id LIMIT $1`,
        [limit],
      );
      return rows;
    });
    return rows.map((row) => ({ versionId: row.version_id, keyId: row.key_id, recordedAt: new Date(row.recorded_at) }));
  }

  async markKeyMaterialDestroyed(versionId: string): Promise<void> {
    await this.pool.query(
      "UPDATE key_material_intents SET state = 'destroyed' WHERE version_id = $1 AND state = 'abandoned'",
      [versionId],
    );
  }
}

/**
 * Step 3 of the port's sequence, inside createKey's or addKeyVersion's transaction: removes the
 * version's pending intent, or throws (rolling the transaction back) when the scheduler abandoned
 * it. A version with no intent recorded passes.
 */
export async function takeIntent(tx: PoolClient, versionId: string): Promise<void> {
  const taken = await tx.query("DELETE FROM key_material_intents WHERE version_id = $1 AND state = 'pending'", [
    versionId,
  ]);
  if (taken.rowCount !== 0) return;
  const left = await tx.query('SELECT 1 FROM key_material_intents WHERE version_id = $1', [versionId]);
  if (left.rowCount !== 0) throw abandoned(versionId);
}
