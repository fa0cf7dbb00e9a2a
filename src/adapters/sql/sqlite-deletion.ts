import type { Database, Statement } from 'better-sqlite3';
import { KmsError } from '../../domain/errors.js';
import type { KeyRecord } from '../../domain/key.js';
import type { KeyDeletionStore } from '../../ports/metadata-store.js';
import { requirePageLimit } from './list-markers.js';
import { KeyRowReader, toKeyRecord, type KeyRow } from './sqlite-rows.js';

/** Scheduled deletion in SQLite; the sequence the scheduler follows is documented on the port. */
export class SqliteKeyDeletion implements KeyDeletionStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly schedule: (keyId: string, deletionDate: Date) => KeyRow;
  private readonly cancel: (keyId: string, now: Date) => KeyRow;
  private readonly remove: (keyId: string) => boolean;

  constructor(db: Database) {
    const s = (this.statements = prepareStatements(db));
    const keys = new KeyRowReader(db);

    const schedule = db.transaction((keyId: string, deletionDate: Date): KeyRow => {
      const key = keys.get(keyId);
      // A second ScheduleKeyDeletion must not move a date the owner was already told.
      if (key.state === 'PendingDeletion') throw pending(key, 'is already pending deletion');
      return s.schedule.get(deletionDate.getTime(), keyId) as KeyRow;
    });

    const cancel = db.transaction((keyId: string, now: Date): KeyRow => {
      const key = keys.get(keyId);
      if (key.state !== 'PendingDeletion') throw pending(key, 'is not pending deletion');
      // Past its date the scheduler may be destroying the token objects: too late to bring it back.
      if (key.deletion_date !== null && key.deletion_date <= now.getTime()) throw pending(key, 'is being deleted');
      return s.cancel.get(keyId) as KeyRow;
    });

    const remove = db.transaction((keyId: string): boolean => {
      const key = keys.find(keyId);
      if (key === undefined) return false;
      if (key.state !== 'PendingDeletion') throw pending(key, 'is not pending deletion');
      // Rows that name a version go before the versions; `keys.current_version_id` is checked at commit.
      for (const removal of s.removals) removal.run(keyId);
      return true;
    });

    // IMMEDIATE: each check holds the write lock with the writes it guards.
    this.schedule = (...args) => schedule.immediate(...args);
    this.cancel = (...args) => cancel.immediate(...args);
    this.remove = (keyId) => remove.immediate(keyId);
  }

  async scheduleKeyDeletion(keyId: string, deletionDate: Date): Promise<KeyRecord> {
    return toKeyRecord(this.schedule(keyId, deletionDate));
  }

  async cancelKeyDeletion(keyId: string, now: Date): Promise<KeyRecord> {
    return toKeyRecord(this.cancel(keyId, now));
  }

  async listKeysDueForDeletion(now: Date, limit: number): Promise<string[]> {
    requirePageLimit(limit);
    return this.statements.dueForDeletion.all(now.getTime(), limit) as string[];
  }

  async deleteKeyMetadata(keyId: string): Promise<boolean> {
    return this.remove(keyId);
  }
}

function pending(key: KeyRow, what: string): KmsError {
  return new KmsError('KMSInvalidStateException', `Key '${key.id}' ${what}.`);
}

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    schedule: statement(`UPDATE keys SET state = 'PendingDeletion', deletion_date = ? WHERE id = ? RETURNING *`),
    cancel: statement(`UPDATE keys SET state = 'Disabled', deletion_date = NULL WHERE id = ? RETURNING *`),
    dueForDeletion: statement(`SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= ?
      ORDER BY deletion_date, id LIMIT ?`).pluck(),
    removals: [
      'DELETE FROM aliases WHERE key_id = ?',
      'DELETE FROM key_rotations WHERE key_id = ?',
      'DELETE FROM key_rotation_schedules WHERE key_id = ?',
      'DELETE FROM key_tags WHERE key_id = ?',
      'DELETE FROM key_policies WHERE key_id = ?',
      'DELETE FROM key_grants WHERE key_id = ?',
      'DELETE FROM key_versions WHERE key_id = ?',
      'DELETE FROM keys WHERE id = ?',
    ].map(statement),
  };
}
