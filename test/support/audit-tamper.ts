import { chainHash } from '../../src/audit/chain.js';
import { type Checkpoint, signCheckpoint } from '../../src/audit/checkpoint.js';
import { formatCheckpointLine, formatEntryLine } from '../../src/audit/export-format.js';
import { canonicalJson } from '../../src/audit/json-value.js';
import { auditKeyPair, nodeCheckpointSigner, type TestLedger } from './audit-ledger.js';

// Edits of a JSON Lines export, each what someone with write access to the ledger table (but not the
// audit key) could do. All return new arrays.

interface Line {
  readonly type: string;
  readonly entry?: Record<string, unknown> & { seq: number };
  readonly hash: string;
  readonly seq?: number;
}

const parse = (text: string): Line => JSON.parse(text) as Line;
const at = (lines: readonly string[], index: number): string => lines[index] as string;

export const entryAt = (lines: readonly string[], seq: number): number =>
  lines.findIndex((l) => parse(l).entry?.seq === seq);
export const checkpointAt = (lines: readonly string[], seq: number): number =>
  lines.findIndex((l) => parse(l).type === 'checkpoint' && parse(l).seq === seq);

export const replaceAt = (lines: readonly string[], index: number, line: string): string[] =>
  lines.map((l, i) => (i === index ? line : l));
export const insertAt = (lines: readonly string[], index: number, line: string): string[] =>
  [...lines.slice(0, index), line, ...lines.slice(index)];
export const removeAt = (lines: readonly string[], index: number): string[] => lines.filter((_, i) => i !== index);
export const swap = (lines: readonly string[], a: number, b: number): string[] =>
  lines.map((l, i) => (i === a ? at(lines, b) : i === b ? at(lines, a) : l));

/** Changes entry `seq` in place, leaving the hash beside it (an UPDATE of a field). */
export function editEntry(
  lines: readonly string[],
  seq: number,
  edit: (entry: Record<string, unknown>) => void,
): string[] {
  const index = entryAt(lines, seq);
  const line = parse(at(lines, index));
  const entry = { ...line.entry };
  edit(entry);
  return replaceAt(lines, index, JSON.stringify({ ...line, entry }));
}

/** Exchanges the contents of two entries; each line keeps its seq and hash. */
export function swapContent(lines: readonly string[], a: number, b: number): string[] {
  const [lineA, lineB] = [parse(at(lines, entryAt(lines, a))), parse(at(lines, entryAt(lines, b)))];
  const moved = replaceAt(lines, entryAt(lines, a), JSON.stringify({ ...lineA, entry: { ...lineB.entry, seq: a } }));
  return replaceAt(moved, entryAt(lines, b), JSON.stringify({ ...lineB, entry: { ...lineA.entry, seq: b } }));
}

/** Adds 1 to the seq of every entry line from `fromIndex` on. */
export function renumberFrom(lines: readonly string[], fromIndex: number): string[] {
  return lines.map((text, i) => {
    const line = parse(text);
    if (i < fromIndex || line.entry === undefined) return text;
    return JSON.stringify({ ...line, entry: { ...line.entry, seq: line.entry.seq + 1 } });
  });
}

/** Recomputes the hash beside every entry from `fromSeq` on (or only beside that one). */
export function rehash(ledger: TestLedger, lines: readonly string[], fromSeq: number, onlyThatOne = false): string[] {
  let prev: Buffer = Buffer.from(ledger.hashes[fromSeq - 1] as string, 'hex');
  return lines.map((text) => {
    const { entry } = parse(text);
    if (entry === undefined || entry.seq < fromSeq || (onlyThatOne && entry.seq !== fromSeq)) return text;
    const canonical = canonicalJson(entry);
    prev = chainHash(prev, canonical);
    return formatEntryLine(canonical, prev);
  });
}

/** A copy of entry `likeSeq` renumbered `seq`, chained after the real entry `afterSeq`. */
export function forgedEntryLine(ledger: TestLedger, likeSeq: number, afterSeq: number, seq: number): string {
  const original = parse(at(ledger.lines, entryAt(ledger.lines, likeSeq))).entry;
  const canonical = canonicalJson({ ...original, seq, requestId: 'forged' });
  return formatEntryLine(canonical, chainHash(Buffer.from(ledger.hashes[afterSeq] as string, 'hex'), canonical));
}

/** Only entries up to `lastSeq`; checkpoints past it kept (at the end) or dropped too. */
export function truncate(lines: readonly string[], lastSeq: number, keepLaterCheckpoints: boolean): string[] {
  return lines.filter((text) => {
    const line = parse(text);
    if (line.entry !== undefined) return line.entry.seq <= lastSeq;
    return keepLaterCheckpoints || (line.seq as number) <= lastSeq;
  });
}

/** Puts each checkpoint line after the entry it names, as the exporter would for a tampered store. */
export function placeCheckpoints(lines: readonly string[]): string[] {
  const entries = lines.filter((l) => parse(l).entry !== undefined);
  const checkpoints = lines.filter((l) => parse(l).type === 'checkpoint');
  const placed = entries.flatMap((l) => [l, ...checkpoints.filter((c) => parse(c).seq === parse(l).entry?.seq)]);
  const lastSeq = parse(entries.at(-1) as string).entry?.seq ?? 0;
  return placed.concat(checkpoints.filter((c) => (parse(c).seq as number) > lastSeq));
}

export function checkpointLine(ledger: TestLedger, seq: number): string {
  return formatCheckpointLine(ledger.checkpoints.find((c) => c.seq === seq) as Checkpoint);
}

/** Checkpoint `seq` with the last byte of its DER signature flipped. */
export function flippedSignatureLine(ledger: TestLedger, seq: number): string {
  const checkpoint = ledger.checkpoints.find((c) => c.seq === seq) as Checkpoint;
  const signature = Buffer.from(checkpoint.signature, 'base64');
  signature.writeUInt8(signature.readUInt8(signature.length - 1) ^ 0x01, signature.length - 1);
  return formatCheckpointLine({ ...checkpoint, signature: signature.toString('base64') });
}

/** Replaces checkpoint `seq` by one over the hash now beside entry `seq`, signed by some other P-256 key. */
export async function forgeCheckpoint(lines: readonly string[], seq: number): Promise<string[]> {
  const hash = Buffer.from(parse(at(lines, entryAt(lines, seq))).hash, 'hex');
  const forged = await signCheckpoint(nodeCheckpointSigner(auditKeyPair().privateKey), { seq, hash }, new Date());
  return replaceAt(lines, checkpointAt(lines, seq), formatCheckpointLine(forged));
}

/** Entries `fromSeq`..`toSeq` made up (outcomes rewritten) and chained after the real `fromSeq − 1`. */
export function forgedTail(ledger: TestLedger, fromSeq: number, toSeq: number): string[] {
  let prev: Buffer = Buffer.from(ledger.hashes[fromSeq - 1] as string, 'hex');
  const forged: string[] = [];
  for (let seq = fromSeq; seq <= toSeq; seq++) {
    const original = parse(at(ledger.lines, entryAt(ledger.lines, seq))).entry;
    const canonical = canonicalJson({ ...original, outcome: 'Success' });
    prev = chainHash(prev, canonical);
    forged.push(formatEntryLine(canonical, prev));
  }
  return forged;
}
