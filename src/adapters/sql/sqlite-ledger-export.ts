import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { Checkpoint } from '../../audit/checkpoint.js';
import { exportLines, type StoredEntryRow } from '../../audit/export-writer.js';

/** Rows read per query while exporting: bounded memory whatever the ledger's size. */
const PAGE_ROWS = 10_000;

/**
 * Reads the ledger straight from the SQLite file for `p11kms audit export` — offline, needing
 * neither the server nor the token, and safe beside a running server (a read-only connection in
 * one read transaction, so the export is one consistent snapshot even while entries are appended).
 */
export class SqliteLedgerExport {
  private constructor(private readonly db: Database.Database) {}

  static open(path: string): SqliteLedgerExport {
    if (!existsSync(path)) throw new Error(`no database at ${path}`);
    const db = new Database(path, { readonly: true, fileMustExist: true });
    const hasLedger = db
      .prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'")
      .pluck()
      .get();
    if (hasLedger !== 1) {
      db.close();
      throw new Error(`${path} holds no audit ledger (was it written by a p11kms server?)`);
    }
    return new SqliteLedgerExport(db);
  }

  /** The export's JSON Lines (src/audit/export-format.ts), without line ends. */
  *lines(): Generator<string> {
    this.db.exec('BEGIN');
    try {
      const checkpoints = (
        this.db.prepare('SELECT seq, hash, time, signature FROM ledger_checkpoints ORDER BY seq').all() as Array<{
          seq: number;
          hash: Buffer;
          time: string;
          signature: Buffer;
        }>
      ).map(
        (row): Checkpoint => ({
          seq: row.seq,
          hash: row.hash.toString('hex'),
          time: row.time,
          signature: row.signature.toString('base64'),
        }),
      );
      yield* exportLines(this.#entries(), checkpoints);
    } finally {
      this.db.exec('COMMIT');
    }
  }

  close(): void {
    this.db.close();
  }

  *#entries(): Generator<StoredEntryRow> {
    const page = this.db.prepare('SELECT seq, canonical, hash FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?');
    for (let after = 0; ; ) {
      const rows = page.all(after, PAGE_ROWS) as Array<{ seq: number; canonical: string; hash: Buffer }>;
      yield* rows;
      if (rows.length < PAGE_ROWS) return;
      after = rows[rows.length - 1]!.seq;
    }
  }
}
