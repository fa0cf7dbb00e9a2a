import { beforeAll, describe, expect, it } from 'vitest';
import { verifyExport, type VerifyFault } from '../../../src/audit/verify.js';
import { auditKeyPair, buildTestLedger, linesOf, type TestLedger } from '../../support/audit-ledger.js';
import {
  checkpointAt,
  checkpointLine,
  editEntry,
  entryAt,
  flippedSignatureLine,
  forgeCheckpoint,
  forgedEntryLine,
  forgedTail,
  insertAt,
  placeCheckpoints,
  rehash,
  removeAt,
  renumberFrom,
  replaceAt,
  swap,
  swapContent,
  truncate,
} from '../../support/audit-tamper.js';

// 50 entries, with a checkpoint line after entries 10, 20, 30, 40 and 50.
let ledger: TestLedger;
beforeAll(async () => {
  ledger = await buildTestLedger(50, 10);
});

interface Tamper {
  readonly name: string;
  readonly apply: (lines: string[], ledger: TestLedger) => string[] | Promise<string[]>;
  /** Where the export first disagrees (verify.ts defines it per fault). */
  readonly firstBadSeq: number;
  readonly fault: VerifyFault;
  /** The last seq a signed checkpoint still vouches for. */
  readonly verifiedThrough: number;
}

const TAMPERS: Tamper[] = [
  // Changed fields: the first bad seq is the changed entry, unless the forger also rewrote hashes.
  tamper('a changed field in entry 23', [23, 'hash-mismatch', 20], (l) =>
    editEntry(l, 23, (e) => (e.outcome = 'Success!')),
  ),
  tamper('a changed parameter in entry 1', [1, 'hash-mismatch', 0], (l) => editEntry(l, 1, (e) => (e.parameters = {}))),
  tamper('a changed field in the last entry', [50, 'hash-mismatch', 40], (l) =>
    editEntry(l, 50, (e) => (e.durationMs = 0)),
  ),
  tamper('entries 23 and 24 swapped in content, seqs and hashes kept', [23, 'hash-mismatch', 20], (l) =>
    swapContent(l, 23, 24),
  ),
  tamper('entry 23 changed and the hash beside it rewritten', [24, 'hash-mismatch', 20], (l, g) =>
    rehash(g, editEntry(l, 23, (e) => (e.principalArn = null)), 23, true),
  ),
  tamper('entry 23 changed and every later hash rewritten', [30, 'checkpoint-mismatch', 20], (l, g) =>
    rehash(g, editEntry(l, 23, (e) => (e.outcome = 'Success!')), 23),
  ),
  // Deletions: the first bad seq is the deleted one.
  tamper('entry 23 deleted', [23, 'sequence-break', 20], (l) => removeAt(l, entryAt(l, 23))),
  tamper('entry 1 deleted', [1, 'sequence-break', 0], (l) => removeAt(l, entryAt(l, 1))),
  tamper('entry 30 deleted, its checkpoint kept', [30, 'sequence-break', 20], (l) => removeAt(l, entryAt(l, 30))),
  tamper('entry 50 deleted, its checkpoint kept', [50, 'truncated', 40], (l) => removeAt(l, entryAt(l, 50))),
  // Insertions after 23: the first bad seq is 24, the inserted one, unless the forger renumbers and rehashes.
  tamper('an entry inserted after 23 as 24, correctly chained', [24, 'sequence-break', 20], (l, g) =>
    insertAt(l, entryAt(l, 23) + 1, forgedEntryLine(g, 23, 23, 24)),
  ),
  tamper('an entry inserted after 23 as 24, badly chained', [24, 'hash-mismatch', 20], (l, g) =>
    insertAt(l, entryAt(l, 23) + 1, forgedEntryLine(g, 23, 22, 24)),
  ),
  tamper('an entry inserted after 23 as 24, later renumbered and rehashed', [30, 'checkpoint-mismatch', 20], (l, g) => {
    const inserted = insertAt(l, entryAt(l, 23) + 1, forgedEntryLine(g, 23, 23, 24));
    return placeCheckpoints(rehash(g, renumberFrom(inserted, entryAt(l, 24) + 1), 24));
  }),
  // Swaps of k and k+1: the first bad seq is k.
  tamper('entries 23 and 24 swapped', [23, 'sequence-break', 20], (l) => swap(l, entryAt(l, 23), entryAt(l, 24))),
  tamper('entries 30 and 31 swapped around checkpoint 30', [30, 'sequence-break', 20], (l) =>
    swap(l, entryAt(l, 30), entryAt(l, 31)),
  ),
  // Truncation, seen against the last checkpoint: the first bad seq is the first one missing.
  tamper('cut after 38, just before checkpoint 40', [39, 'truncated', 30], (l) => truncate(l, 38, true)),
  tamper('cut after 40, just after checkpoint 40', [41, 'truncated', 40], (l) => truncate(l, 40, true)),
  tamper('cut after 45, then 46–50 made up and chained', [50, 'checkpoint-mismatch', 40], (l, g) => [
    ...truncate(l, 45, false),
    ...forgedTail(g, 46, 50),
    checkpointLine(g, 50),
  ]),
  // Forged and replayed checkpoints.
  tamper('checkpoint 30 with a flipped signature bit', [30, 'checkpoint-signature', 20], (l, g) =>
    replaceAt(l, checkpointAt(l, 30), flippedSignatureLine(g, 30)),
  ),
  tamper('checkpoint 30 signed by another key over a rewritten chain', [30, 'checkpoint-signature', 20], (l, g) =>
    forgeCheckpoint(rehash(g, editEntry(l, 23, (e) => (e.outcome = 'x')), 23), 30),
  ),
  tamper('checkpoint 40 replaced by a replay of checkpoint 20', [40, 'checkpoint-replayed', 30], (l, g) =>
    replaceAt(l, checkpointAt(l, 40), checkpointLine(g, 20)),
  ),
  tamper('checkpoint 20 replayed after checkpoint 30', [30, 'checkpoint-replayed', 30], (l, g) =>
    insertAt(l, checkpointAt(l, 30) + 1, checkpointLine(g, 20)),
  ),
  tamper('checkpoints 30 and 40 swapped, going backwards', [40, 'checkpoint-replayed', 40], (l) =>
    swap(l, checkpointAt(l, 30), checkpointAt(l, 40)),
  ),
  tamper('checkpoint 30 moved after entry 33', [31, 'checkpoint-misplaced', 20], (l, g) =>
    insertAt(removeAt(l, checkpointAt(l, 30)), entryAt(l, 33), checkpointLine(g, 30)),
  ),
  tamper('a garbage line after entry 12', [13, 'malformed-line', 10], (l) =>
    insertAt(l, entryAt(l, 12) + 1, '{"type":"entry"'),
  ),
];

function tamper(name: string, expected: [number, VerifyFault, number], apply: Tamper['apply']): Tamper {
  const [firstBadSeq, fault, verifiedThrough] = expected;
  return { name, apply, firstBadSeq, fault, verifiedThrough };
}

describe('verifyExport', () => {
  it('verifies an untampered export to its head, every checkpoint matched', async () => {
    const progress: number[] = [];
    const result = await verifyExport(linesOf(ledger.lines), ledger.publicKeyPem, (p) => progress.push(p.entries));
    expect(result).toEqual({
      ok: true,
      entries: 50,
      checkpoints: 5,
      head: { seq: 50, hash: ledger.hashes[50] },
      verifiedThrough: 50,
    });
    expect(progress.at(-1)).toBe(50);
  });

  it('verifies an empty export to genesis', async () => {
    const result = await verifyExport(linesOf([]), ledger.publicKeyPem);
    const genesis = { seq: 0, hash: ledger.hashes[0] };
    expect(result).toEqual({ ok: true, entries: 0, checkpoints: 0, head: genesis, verifiedThrough: 0 });
  });

  it('accepts a checkpoint line placed before the entry it names, and ignores empty lines', async () => {
    const lines = insertAt(swap(ledger.lines, entryAt(ledger.lines, 30), checkpointAt(ledger.lines, 30)), 5, '');
    expect(await verifyExport(linesOf(lines), ledger.publicKeyPem)).toMatchObject({ ok: true, verifiedThrough: 50 });
  });

  it('cannot see a tail cut off together with its checkpoints, but reports the shorter head', async () => {
    const result = await verifyExport(linesOf(truncate(ledger.lines, 35, false)), ledger.publicKeyPem);
    const head = { seq: 35, hash: ledger.hashes[35] };
    expect(result).toMatchObject({ ok: true, entries: 35, checkpoints: 3, head, verifiedThrough: 30 });
  });

  it('rejects every checkpoint under another public key, from the first', async () => {
    const result = await verifyExport(linesOf(ledger.lines), auditKeyPair().publicKeyPem);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 10, fault: 'checkpoint-signature', line: 11 });
  });

  it.each(TAMPERS)('names the first bad seq for $name', async ({ apply, firstBadSeq, fault, verifiedThrough }) => {
    const tampered = await apply([...ledger.lines], ledger);
    expect(tampered).not.toEqual(ledger.lines);
    const result = await verifyExport(linesOf(tampered), ledger.publicKeyPem);
    expect(result).toMatchObject({ ok: false, firstBadSeq, fault, verifiedThrough });
  });
});
