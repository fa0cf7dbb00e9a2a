import type { Pool } from 'pg';
import { KmsError } from '../../domain/errors.js';
import type { KeyRecord } from '../../domain/key.js';
import type { KeyDeletionStore } from '../../ports/metadata-store.js';
import { requirePageLimit } from './list-markers.js';
import { inTransaction, lockExistingKey, lockKey, toKeyRecord, type KeyRow } from './postgres-rows.js';

/**
 * Scheduled deletion in PostgreSQL; the sequence the scheduler follows is documented on the port.
 * Each method locks the key's row for its check and write, so a CancelKeyDeletion racing the
 * scheduler (on this replica or another) either lands before the key is due or not at all.
 */
export class PostgresKeyDeletion implements KeyDeletionStore {
  constructor(private readonly pool: Pool) {}

  async scheduleKeyDeletion(keyId: string, deletionDate: Date): Promise<KeyRecord> {
    const row = await inTransaction(this.pool, async (tx) => {
      const key = await lockExistingKey(tx, keyId);
      // A second ScheduleKeyDeletion must not move a date the owner was already told.
      if (key.state === 'PendingDeletion') throw pending(key, 'is already pending deletion');
      const { rows } = await tx.query<KeyRow>(
        `UPDATE keys SET state = 'PendingDeletion', deletion_date = $1 WHERE id = $2 RETURNING *`,
        [deletionDate.getTime(), keyId],
      );
      return rows[0]!;
    });
    return toKeyRecord(row);
  }

  async cancelKeyDeletion(keyId: string, now: Date): Promise<KeyRecord> {
    const row = await inTransaction(this.pool, async (tx) => {
      const key = await lockExistingKey(tx, keyId);
      if (key.state !== 'PendingDeletion') throw pending(key, 'is not pending deletion');
      // Past its date the scheduler may be destroying the token objects: too late to bring it back.
      if (key.deletion_date !== null && key.deletion_date <= now.getTime()) throw pending(key, 'is being deleted');
      const { rows } = await tx.query<KeyRow>(
        `UPDATE keys SET state = 'Disabled', deletion_date = NULL WHERE id = $1 RETURNING *`,
        [keyId],
      );
      return rows[0]!;
    });
    return toKeyRecord(row);
  }

  async listKeysDueForDeletion(now: Date, limit: number): Promise<string[]> {
    requirePageLimit(limit);
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= $1
       ORDER BY deletion_date, id LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map((row) => row.id);
  }

  async deleteKeyMetadata(keyId: string): Promise<boolean> {
    return inTransaction(this.pool, async (tx) => {
      const key = await lockKey(tx, keyId);
      if (key === undefined) return false;
      if (key.state !== 'PendingDeletion') throw pending(key, 'is not pending deletion');
      // Rows that name a version go before the versions; `keys.current_version_id` is checked at commit.
      for (const removal of REMOVALS) await tx.query(removal, [keyId]);
      return true;
    });
  }
}

const REMOVALS = [
  'DELETE FROM aliases WHERE key_id = $1',
  'DELETE FROM key_rotations WHERE key_id = $1',
  'DELETE FROM key_rotation_schedules WHERE key_id = $1',
  'DELETE FROM key_tags WHERE key_id = $1',
  'DELETE FROM key_policies WHERE key_id = $1',
  'DELETE FROM key_grants WHERE key_id = $1',
  'DELETE FROM key_versions WHERE key_id = $1',
  'DELETE FROM keys WHERE id = $1',
];

function pending(key: KeyRow, what: string): KmsError {
  return new KmsError('KMSInvalidStateException', `Key '${key.id}' ${what}.`);
}
