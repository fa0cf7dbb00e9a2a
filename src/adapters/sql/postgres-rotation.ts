import type { Pool } from 'pg';
import { KmsError, needs, validation } from '../../domain/errors.js';
import { isKeyId } from '../../domain/ids.js';
import type { KeyRecord, KeyVersion } from '../../domain/key.js';
import type {
  KeyRotationRecord,
  KeyRotationStore,
  KeyVersionRotation,
  Page,
  PageQuery,
  RotationSchedule,
  RotationType,
} from '../../ports/metadata-store.js';
import { decodeListMarker, pageOfRows, requirePageLimit } from './list-markers.js';
import { takeIntent } from './postgres-key-material.js';
import {
  alreadyExistsOn,
  inTransaction,
  lockExistingKey,
  requireEnabled,
  toKeyRecord,
  type KeyRow,
  type Queryable,
} from './postgres-rows.js';

interface RotationRow {
  key_id: string;
  version_id: string;
  rotation_date: number;
  rotation_type: string;
}

interface ScheduleRow {
  enabled: boolean;
  period_days: number;
  next_rotation_at: number | null;
}

/**
 * Key versions made by rotation, the rotation log and the automatic-rotation schedule in
 * PostgreSQL. Every write locks the key's row first: the on-demand quota, the due date and the
 * key's state are read under that lock, so two replicas cannot both pass a check only one may pass.
 */
export class PostgresKeyRotation implements KeyRotationStore {
  constructor(private readonly pool: Pool) {}

  async addKeyVersion(keyId: string, version: KeyVersion, rotation: KeyVersionRotation): Promise<KeyRecord> {
    needs(version.keyId === keyId, () => validation(`Version ${version.id} does not belong to key ${keyId}.`));
    // ListKeyRotations' markers carry the version id and accept only UUIDs (newKeyVersionId).
    needs(isKeyId(version.id), () => validation(`Version id ${version.id} is not a UUID.`));
    const row = await inTransaction(this.pool, async (tx) => {
      requireEnabled(await lockExistingKey(tx, keyId));
      const message = `Key version ${version.id} already exists.`;
      const taken = await tx.query('SELECT 1 FROM key_versions WHERE id = $1', [version.id]);
      if (taken.rowCount !== 0) throw new KmsError('AlreadyExistsException', message);
      const rotationDate = version.createdAt.getTime();
      if (rotation.rotationType === 'ON_DEMAND') {
        const limit = rotation.maxOnDemandRotations;
        // Counted under the key's lock: every rotation of this key commits before or after this count.
        if (limit !== undefined && (await countOnDemand(tx, keyId)) >= limit) {
          throw new KmsError(
            'LimitExceededException',
            `Key ${keyId} has reached its limit of ${limit} on-demand rotations.`,
          );
        }
      } else {
        // AWS KMS: automatic rotation happens only while rotation is enabled, once per due date.
        const schedule = await readSchedule(tx, keyId);
        const nextAt = schedule?.enabled === true ? schedule.next_rotation_at : null;
        if (nextAt === null || nextAt > rotationDate) {
          throw new KmsError('KMSInvalidStateException', `Automatic rotation of key ${keyId} is not due.`);
        }
        await tx.query('UPDATE key_rotation_schedules SET next_rotation_at = $1 WHERE key_id = $2', [
          rotation.nextRotationAt.getTime(),
          keyId,
        ]);
      }
      // A version id another key is inserting right now still collides here, on the primary key.
      await tx
        .query('INSERT INTO key_versions (id, key_id, created_at) VALUES ($1, $2, $3)', [
          version.id,
          keyId,
          rotationDate,
        ])
        .catch(alreadyExistsOn(['key_versions_pkey', 'key_versions_key_id_id_key'], message));
      await takeIntent(tx, version.id);
      await tx.query(
        'INSERT INTO key_rotations (version_id, key_id, rotation_date, rotation_type) VALUES ($1, $2, $3, $4)',
        [version.id, keyId, rotationDate, rotation.rotationType],
      );
      const { rows } = await tx.query<KeyRow>(
        'UPDATE keys SET current_version_id = $1 WHERE id = $2 RETURNING *',
        [version.id, keyId],
      );
      return rows[0]!;
    });
    return toKeyRecord(row);
  }

  async listKeyRotations(keyId: string, { limit, marker }: PageQuery): Promise<Page<KeyRotationRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isKeyId);
    // One row beyond the page tells whether another page follows.
    const { rows } = await this.pool.query<RotationRow>(
      `SELECT * FROM key_rotations
       WHERE key_id = $1 AND ($2::bigint IS NULL OR (rotation_date, version_id) > ($2, $3))
       ORDER BY rotation_date, version_id LIMIT $4`,
      [keyId, after?.at ?? null, after?.id ?? null, limit + 1],
    );
    return pageOfRows(rows, limit, toRotationRecord, (rotation) => ({
      at: rotation.rotationDate.getTime(),
      id: rotation.versionId,
    }));
  }

  countOnDemandRotations(keyId: string): Promise<number> {
    return countOnDemand(this.pool, keyId);
  }

  async setRotation(keyId: string, { enabled, periodDays, nextRotationAt }: RotationSchedule): Promise<void> {
    await inTransaction(this.pool, async (tx) => {
      // The key's lock orders this against an automatic rotation reading the schedule.
      await lockExistingKey(tx, keyId);
      needs(!enabled || nextRotationAt !== undefined, () => validation('Enabled rotation needs a next rotation date.'));
      needs(Number.isInteger(periodDays) && periodDays > 0, () =>
        validation('RotationPeriodInDays must be a positive integer.'),
      );
      await tx.query(
        `INSERT INTO key_rotation_schedules (key_id, enabled, period_days, next_rotation_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (key_id) DO UPDATE SET enabled = excluded.enabled, period_days = excluded.period_days,
           next_rotation_at = excluded.next_rotation_at`,
        [keyId, enabled, periodDays, nextRotationAt?.getTime() ?? null],
      );
    });
  }

  async getRotation(keyId: string): Promise<RotationSchedule | undefined> {
    const row = await readSchedule(this.pool, keyId);
    return (
      row && {
        enabled: row.enabled,
        periodDays: row.period_days,
        nextRotationAt: row.next_rotation_at === null ? undefined : new Date(row.next_rotation_at),
      }
    );
  }

  async listKeysDueForRotation(now: Date, limit: number): Promise<string[]> {
    requirePageLimit(limit);
    const { rows } = await this.pool.query<{ key_id: string }>(
      `SELECT s.key_id FROM key_rotation_schedules s JOIN keys k ON k.id = s.key_id
       WHERE s.enabled AND s.next_rotation_at <= $1 AND k.state = 'Enabled'
       ORDER BY s.next_rotation_at, s.key_id LIMIT $2`,
      [now.getTime(), limit],
    );
    return rows.map((row) => row.key_id);
  }
}

async function countOnDemand(db: Queryable, keyId: string): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*) FROM key_rotations WHERE key_id = $1 AND rotation_type = 'ON_DEMAND'`,
    [keyId],
  );
  return rows[0]?.count ?? 0;
}

async function readSchedule(db: Queryable, keyId: string): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query<ScheduleRow>(
    'SELECT enabled, period_days, next_rotation_at FROM key_rotation_schedules WHERE key_id = $1',
    [keyId],
  );
  return rows[0];
}

function toRotationRecord(row: RotationRow): KeyRotationRecord {
  return {
    keyId: row.key_id,
    versionId: row.version_id,
    rotationDate: new Date(row.rotation_date),
    rotationType: row.rotation_type as RotationType,
  };
}
