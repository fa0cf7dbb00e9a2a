import type { Database, Statement } from 'better-sqlite3';
import { KmsError } from '../../domain/errors.js';
import type { KeyMaterialIntent, KeyMaterialIntentStore } from '../../ports/metadata-store.js';
import { requirePageLimit } from './list-markers.js';

interface IntentRow {
  version_id: string;
  key_id: string;
  recorded_at: number;
}

/** Key material intents in SQLite; the sequence they guard is documented on the port. */
export class SqliteKeyMaterial implements KeyMaterialIntentStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly abandon: (before: number, limit: number) => IntentRow[];

  constructor(db: Database) {
    const s = (this.statements = prepareStatements(db));
    const abandon = db.transaction((before: number, limit: number): IntentRow[] => {
      s.abandonStale.run(before);
      return s.listAbandoned.all(limit) as IntentRow[];
    });
    this.abandon = (...args) => abandon.immediate(...args);
  }

  async recordKeyMaterialIntent({ versionId, keyId, recordedAt }: KeyMaterialIntent): Promise<void> {
    const inserted = this.statements.insert.run(versionId, keyId, recordedAt.getTime());
    if (inserted.changes === 0) {
      throw new KmsError('AlreadyExistsException', `Key version ${versionId} already has key material recorded.`);
    }
  }

  async dropKeyMaterialIntent(versionId: string): Promise<void> {
    this.statements.dropPending.run(versionId);
  }

  async abandonKeyMaterialIntents(before: Date, limit: number): Promise<KeyMaterialIntent[]> {
    requirePageLimit(limit);
    return this.abandon(before.getTime(), limit).map((row) => ({
      versionId: row.version_id,
      keyId: row.key_id,
      recordedAt: new Date(row.recorded_at),
    }));
  }

  async markKeyMaterialDestroyed(versionId: string): Promise<void> {
    this.statements.markDestroyed.run(versionId);
  }
}

/**
 * Step 3 of the port's sequence, for createKey and addKeyVersion to call inside their own
 * transaction: removes the version's pending intent, or throws (rolling their writes back) when
 * the scheduler abandoned it. A version with no intent recorded passes.
 */
export function intentTaker(db: Database): (versionId: string) => void {
  const state = db.prepare('SELECT state FROM key_material_intents WHERE version_id = ?').pluck();
  const take = db.prepare("DELETE FROM key_material_intents WHERE version_id = ? AND state = 'pending'");
  return (versionId) => {
    const found = state.get(versionId) as string | undefined;
    if (found === undefined) return;
    if (found !== 'pending') throw abandoned(versionId);
    take.run(versionId);
  };
}

export function abandoned(versionId: string): KmsError {
  return new KmsError(
    'KMSInternalException',
    `The key material of version ${versionId} was abandoned and destroyed before its metadata was stored; ` +
      'nothing was stored.',
  );
}

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    insert: statement(`INSERT INTO key_material_intents (version_id, key_id, recorded_at, state)
      VALUES (?, ?, ?, 'pending') ON CONFLICT (version_id) DO NOTHING`),
    dropPending: statement("DELETE FROM key_material_intents WHERE version_id = ? AND state = 'pending'"),
    abandonStale: statement(`UPDATE key_material_intents SET state = 'abandoned'
      WHERE state = 'pending' AND recorded_at < ?`),
    listAbandoned: statement(`SELECT version_id, key_id, recorded_at FROM key_material_intents
      WHERE state = 'abandoned' ORDER BY recorded_at, version_id LIMIT ?`),
    markDestroyed: statement(
      "UPDATE key_material_intents SET state = 'destroyed' WHERE version_id = ? AND state = 'abandoned'",
    ),
  };
}
