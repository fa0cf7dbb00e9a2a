import type { Database, Statement } from 'better-sqlite3';
import { KmsError, notFound } from '../../domain/errors.js';
import type { KeyOrigin, KeyRecord, KeySpec, KeyState, KeyUsage, KeyVersion } from '../../domain/key.js';

/** A `keys` row as SQLite returns it; times are epoch milliseconds. */
export interface KeyRow {
  id: string;
  arn: string;
  account: string;
  key_spec: string;
  key_usage: string;
  origin: string;
  description: string;
  state: string;
  created_at: number;
  deletion_date: number | null;
  current_version_id: string;
}

export interface VersionRow {
  id: string;
  key_id: string;
  created_at: number;
}

export function toKeyRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    arn: row.arn,
    account: row.account,
    keySpec: row.key_spec as KeySpec,
    keyUsage: row.key_usage as KeyUsage,
    origin: row.origin as KeyOrigin,
    description: row.description,
    state: row.state as KeyState,
    createdAt: new Date(row.created_at),
    deletionDate: row.deletion_date === null ? undefined : new Date(row.deletion_date),
    currentVersionId: row.current_version_id,
  };
}

export function toKeyVersion(row: VersionRow): KeyVersion {
  return { id: row.id, keyId: row.key_id, createdAt: new Date(row.created_at) };
}

export const keyNotFound = (keyId: string) => notFound(`Key '${keyId}' does not exist.`);

/** Reads one key row by id; used inside the write transactions of every area of the store. */
export class KeyRowReader {
  private readonly select: Statement;

  constructor(db: Database) {
    this.select = db.prepare('SELECT * FROM keys WHERE id = ?');
  }

  find(keyId: string): KeyRow | undefined {
    return this.select.get(keyId) as KeyRow | undefined;
  }

  /** The row, or NotFoundException. */
  get(keyId: string): KeyRow {
    const row = this.find(keyId);
    if (row === undefined) throw keyNotFound(keyId);
    return row;
  }
}

/**
 * A state check inside a write transaction, closing the race with a concurrent state change after
 * the pipeline's own check. The error follows the key-state table's rule for cryptographic
 * operations: Disabled says so, every other state is KMSInvalidStateException.
 */
export function requireEnabled(row: KeyRow): void {
  if (row.state === 'Enabled') return;
  if (row.state === 'Disabled') throw new KmsError('DisabledException', `Key '${row.id}' is disabled.`);
  throw new KmsError('KMSInvalidStateException', `Key '${row.id}' is ${row.state}.`);
}
