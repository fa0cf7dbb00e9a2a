import { exportLines } from '../../audit/export-writer.js';
import { PostgresLedgerStore } from './postgres-ledger.js';

/** Rows read per query while exporting: bounded memory whatever the ledger's size. */
const PAGE_ROWS = 10_000;

/**
 * `p11kms audit export --store postgres://…`: the ledger read straight from PostgreSQL — needing
 * neither a running server nor the token — as one REPEATABLE READ snapshot, so the export is
 * consistent while replicas keep appending. Lines as the SQLite export writes them (export-writer.ts).
 */
export async function exportPostgresLedger(connectionString: string, write: (lines: string[]) => Promise<void>): Promise<void> {
  const store = await PostgresLedgerStore.open(connectionString, { maxConnections: 1 });
  try {
    await store.exportSnapshot(async (reader) => {
      const checkpoints = await reader.checkpoints();
      let next = 0;
      for (let after = 0; ; ) {
        const rows = await reader.entriesAfter(after, PAGE_ROWS);
        if (rows.length === 0) break;
        const last = rows[rows.length - 1]!.seq;
        // Checkpoints up to this page's last entry go with it; exportLines places each right after its entry.
        const upTo = checkpoints.findIndex((checkpoint, index) => index >= next && checkpoint.seq > last);
        const end = upTo === -1 ? checkpoints.length : upTo;
        await write([...exportLines(rows, checkpoints.slice(next, end))]);
        next = end;
        after = last;
        if (rows.length < PAGE_ROWS) break;
      }
      if (next < checkpoints.length) await write([...exportLines([], checkpoints.slice(next))]);
    });
  } finally {
    await store.close();
  }
}
