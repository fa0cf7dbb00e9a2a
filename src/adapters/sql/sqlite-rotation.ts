import type { Database, Statement } from 'better-sqlite3';
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
import { intentTaker } from './sqlite-key-material.js';
import { KeyRowReader, requireEnabled, toKeyRecord, type KeyRow } from './sqlite-rows.js';

interface RotationRow {
  key_id: string;
  version_id: string;
  rotation_date: number;
  rotation_type: string;
}

interface ScheduleRow {
  enabled: number;
  period_days: number;
  next_rotation_at: number | null;
}

type AddVersion = (keyId: string, version: KeyVersion, rotation: KeyVersionRotation) => KeyRow;

/** Key versions made by rotation, the rotation log and the automatic-rotation schedule in SQLite. */
export class SqliteKeyRotation implements KeyRotationStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly addVersion: AddVersion;
  private readonly schedule: (keyId: string, schedule: RotationSchedule) => void;

  constructor(db: Database) {
    const s = (this.statements = prepareStatements(db));
    const keys = new KeyRowReader(db);
    const takeIntent = intentTaker(db);

    const addVersion = db.transaction((keyId: string, version: KeyVersion, rotation: KeyVersionRotation): KeyRow => {
      needs(version.keyId === keyId, () => validation(`Version ${version.id} does not belong to key ${keyId}.`));
      // ListKeyRotations' markers carry the version id and accept only UUIDs (newKeyVersionId).
      needs(isKeyId(version.id), () => validation(`Version id ${version.id} is not a UUID.`));
      requireEnabled(keys.get(keyId));
      if (s.versionExists.get(version.id) !== undefined) {
        throw new KmsError('AlreadyExistsException', `Key version ${version.id} already exists.`);
      }
      const rotationDate = version.createdAt.getTime();
      if (rotation.rotationType === 'ON_DEMAND') {
        const limit = rotation.maxOnDemandRotations;
        if (limit !== undefined && (s.countOnDemand.get(keyId) as number) >= limit) {
          throw new KmsError(
            'LimitExceededException',
            `Key ${keyId} has reached its limit of ${limit} on-demand rotations.`,
          );
        }
      } else {
        // AWS KMS: automatic rotation happens only while rotation is enabled, once per due date.
        const schedule = s.getSchedule.get(keyId) as ScheduleRow | undefined;
        const nextAt = schedule?.enabled === 1 ? schedule.next_rotation_at : null;
        if (nextAt === null || nextAt > rotationDate) {
          throw new KmsError('KMSInvalidStateException', `Automatic rotation of key ${keyId} is not due.`);
        }
        s.setNextRotation.run(rotation.nextRotationAt.getTime(), keyId);
      }
      takeIntent(version.id);
      s.insertVersion.run(version.id, keyId, rotationDate);
      s.insertRotation.run(version.id, keyId, rotationDate, rotation.rotationType);
      return s.makeCurrent.get(version.id, keyId) as KeyRow;
    });

    const schedule = db.transaction((keyId: string, { enabled, periodDays, nextRotationAt }: RotationSchedule) => {
      keys.get(keyId);
      needs(!enabled || nextRotationAt !== undefined, () => validation('Enabled rotation needs a next rotation date.'));
      needs(Number.isInteger(periodDays) && periodDays > 0, () =>
        validation('RotationPeriodInDays must be a positive integer.'),
      );
      s.upsertSchedule.run(keyId, enabled ? 1 : 0, periodDays, nextRotationAt?.getTime() ?? null);
    });

    // IMMEDIATE: each check holds the write lock with the writes it guards.
    this.addVersion = (...args) => addVersion.immediate(...args);
    this.schedule = (...args) => schedule.immediate(...args);
  }

  async addKeyVersion(keyId: string, version: KeyVersion, rotation: KeyVersionRotation): Promise<KeyRecord> {
    return toKeyRecord(this.addVersion(keyId, version, rotation));
  }

  async listKeyRotations(keyId: string, { limit, marker }: PageQuery): Promise<Page<KeyRotationRecord>> {
    requirePageLimit(limit);
    const after = marker === undefined ? undefined : decodeListMarker(marker, isKeyId);
    // One row beyond the page tells whether another page follows.
    const rows = (
      after === undefined
        ? this.statements.firstRotations.all(keyId, limit + 1)
        : this.statements.rotationsAfter.all(keyId, after.at, after.id, limit + 1)
    ) as RotationRow[];
    return pageOfRows(rows, limit, toRotationRecord, (rotation) => ({
      at: rotation.rotationDate.getTime(),
      id: rotation.versionId,
    }));
  }

  async countOnDemandRotations(keyId: string): Promise<number> {
    return this.statements.countOnDemand.get(keyId) as number;
  }

  async setRotation(keyId: string, schedule: RotationSchedule): Promise<void> {
    this.schedule(keyId, schedule);
  }

  async getRotation(keyId: string): Promise<RotationSchedule | undefined> {
    const row = this.statements.getSchedule.get(keyId) as ScheduleRow | undefined;
    return (
      row && {
        enabled: row.enabled === 1,
        periodDays: row.period_days,
        nextRotationAt: row.next_rotation_at === null ? undefined : new Date(row.next_rotation_at),
      }
    );
  }

  async listKeysDueForRotation(now: Date, limit: number): Promise<string[]> {
    requirePageLimit(limit);
    return this.statements.dueForRotation.all(now.getTime(), limit) as string[];
  }
}

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    versionExists: statement('SELECT 1 FROM key_versions WHERE id = ?'),
    insertVersion: statement('INSERT INTO key_versions (id, key_id, created_at) VALUES (?, ?, ?)'),
    insertRotation: statement(
      'INSERT INTO key_rotations (version_id, key_id, rotation_date, rotation_type) VALUES (?, ?, ?, ?)',
    ),
    makeCurrent: statement('UPDATE keys SET current_version_id = ? WHERE id = ? RETURNING *'),
    countOnDemand: statement(`SELECT count(*) FROM key_rotations
      WHERE key_id = ? AND rotation_type = 'ON_DEMAND'`).pluck(),
    firstRotations: statement(`SELECT * FROM key_rotations WHERE key_id = ?
      ORDER BY rotation_date, version_id LIMIT ?`),
    rotationsAfter: statement(`SELECT * FROM key_rotations WHERE key_id = ? AND (rotation_date, version_id) > (?, ?)
      ORDER BY rotation_date, version_id LIMIT ?`),
    getSchedule: statement(`SELECT enabled, period_days, next_rotation_at FROM key_rotation_schedules
      WHERE key_id = ?`),
    upsertSchedule: statement(`INSERT INTO key_rotation_schedules (key_id, enabled, period_days, next_rotation_at)
      VALUES (?, ?, ?, ?)
      ON CONFLICT (key_id) DO UPDATE SET enabled = excluded.enabled, period_days = excluded.period_days,
        next_rotation_at = excluded.next_rotation_at`),
    setNextRotation: statement('UPDATE key_rotation_schedules SET next_rotation_at = ? WHERE key_id = ?'),
    dueForRotation: statement(`SELECT s.key_id FROM key_rotation_schedules s JOIN keys k ON k.id = s.key_id
      WHERE s.enabled = 1 AND s.next_rotation_at <= ? AND k.state = 'Enabled'
      ORDER BY s.next_rotation_at, s.key_id LIMIT ?`).pluck(),
  };
}

function toRotationRecord(row: RotationRow): KeyRotationRecord {
  return {
    keyId: row.key_id,
    versionId: row.version_id,
    rotationDate: new Date(row.rotation_date),
    rotationType: row.rotation_type as RotationType,
  };
}
