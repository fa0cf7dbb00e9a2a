import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../../src/audit/checkpoint.js';
import { exportLines } from '../../../src/audit/export-writer.js';
import { parseExportLine } from '../../../src/audit/export-format.js';
import { verifyExport } from '../../../src/audit/verify.js';
import { buildTestLedger, linesOf } from '../../support/audit-ledger.js';

const row = (seq: number) => ({ seq, canonical: `{"seq":${seq}}`, hash: Buffer.alloc(32, seq) });
const checkpoint = (seq: number): Checkpoint => ({ seq, hash: 'ab'.repeat(32), time: 't', signature: 'AA==' });
const shape = (lines: Iterable<string>) =>
  [...lines].map((line) => {
    const parsed = parseExportLine(line);
    return parsed.type === 'entry' ? `e${parsed.entry.seq}` : parsed.type === 'checkpoint' ? `c${parsed.checkpoint.seq}` : 'x';
  });

describe('exportLines', () => {
  it('puts each checkpoint right after the entry it names', () => {
    expect(shape(exportLines([1, 2, 3, 4].map(row), [checkpoint(2), checkpoint(4)]))).toEqual(['e1', 'e2', 'c2', 'e3', 'e4', 'c4']);
  });

  it('puts a checkpoint for a missing entry where the entry would be, and later ones at the end', () => {
    expect(shape(exportLines([1, 2, 4].map(row), [checkpoint(3), checkpoint(6)]))).toEqual(['e1', 'e2', 'c3', 'e4', 'c6']);
    expect(shape(exportLines([], [checkpoint(1)]))).toEqual(['c1']);
  });

  it('writes the stored canonical text unchanged', () => {
    const [line] = exportLines([{ seq: 1, canonical: '{"seq":1,"z":"é","a":1}', hash: Buffer.alloc(32) }], []);
    expect(line).toBe(`{"type":"entry","entry":{"seq":1,"z":"é","a":1},"hash":"${'00'.repeat(32)}"}`);
  });

  it('round-trips a real ledger: the verifier accepts what it writes', async () => {
    const ledger = await buildTestLedger(30, 10);
    const rows = ledger.lines
      .map((line) => JSON.parse(line))
      .filter((line) => line.type === 'entry')
      .map((line) => ({ seq: line.entry.seq, canonical: JSON.stringify(line.entry), hash: Buffer.from(line.hash, 'hex') }));
    const lines = [...exportLines(rows, ledger.checkpoints)];
    const result = await verifyExport(linesOf(lines), ledger.publicKeyPem);
    expect(result).toMatchObject({ ok: true, entries: 30, checkpoints: 3, verifiedThrough: 30 });
  });
});
