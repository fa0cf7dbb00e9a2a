import type { Checkpoint } from './checkpoint.js';
import { formatCheckpointLine, formatEntryLine } from './export-format.js';

/** An entry as storage holds it: its row's seq, the stored canonical text and chain hash. */
export interface StoredEntryRow {
  readonly seq: number;
  readonly canonical: string;
  readonly hash: Buffer;
}

/**
 * The lines of an export (export-format.ts) from entries and checkpoints, both in ascending seq.
 * Each checkpoint goes after every entry whose seq is at most its own, so it lands right after the
 * entry it names; one naming a seq no longer stored lands where that entry would be, and those past
 * the last entry come last. The stored text is written as it is, never rebuilt from other columns:
 * the export shows exactly what the ledger holds, tampered or not.
 */
export function* exportLines(entries: Iterable<StoredEntryRow>, checkpoints: Iterable<Checkpoint>): Generator<string> {
  const pending = checkpoints[Symbol.iterator]();
  let next = pending.next();
  for (const entry of entries) {
    while (!next.done && next.value.seq < entry.seq) {
      yield formatCheckpointLine(next.value);
      next = pending.next();
    }
    yield formatEntryLine(entry.canonical, entry.hash);
  }
  for (; !next.done; next = pending.next()) yield formatCheckpointLine(next.value);
}
