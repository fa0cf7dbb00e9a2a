import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Checkpoint } from './checkpoint.js';

/**
 * The ledger export, written by `p11kms audit export` and read by `p11kms audit verify` (issue 6,
 * items 5–6): JSON Lines — UTF-8, one JSON object per line, lines ended by '\n'; empty lines ignored.
 *
 *   {"type":"entry","entry":{<LedgerEntry>},"hash":"<hex>"}
 *     `hash` is the chain hash after this entry (lowercase hex SHA-256, as stored beside the entry);
 *     `entry` may be in any JSON form: the verifier re-canonicalises it (RFC 8785) before hashing.
 *   {"type":"checkpoint","seq":N,"hash":"<hex>","time":"<ISO 8601>","signature":"<base64 DER>"}
 *     a Checkpoint (checkpoint.ts), signed over checkpointPayload(seq, hash, time).
 *
 * Order: entry lines by ascending seq from 1, no gaps or repeats. A checkpoint line follows the entry
 * line whose seq it names, before the next entry line; checkpoints naming a seq past the last entry
 * (which only a ledger that lost its tail can have) follow the last entry line. Checkpoint seqs
 * strictly increase. The genesis hash is not written: it is GENESIS_HASH (chain.ts).
 */
export type ExportLine =
  | { readonly type: 'entry'; readonly entry: ExportedEntry; readonly hash: string }
  | { readonly type: 'checkpoint'; readonly checkpoint: Checkpoint }
  | { readonly type: 'malformed'; readonly reason: string };

/** An entry as read back: only `seq` is looked at; the hash covers the rest. */
export type ExportedEntry = { readonly seq: number } & Readonly<Record<string, unknown>>;

const HASH_HEX = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One entry line; `canonical` is canonicalEntry(entry), which is itself valid JSON. */
export function formatEntryLine(canonical: string, hash: Buffer): string {
  return `{"type":"entry","entry":${canonical},"hash":"${hash.toString('hex')}"}`;
}

export function formatCheckpointLine(checkpoint: Checkpoint): string {
  const { seq, hash, time, signature } = checkpoint;
  return JSON.stringify({ type: 'checkpoint', seq, hash, time, signature });
}

/** Parses one line; never throws, so the verifier can name the line that is wrong. */
export function parseExportLine(line: string): ExportLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return malformed('not JSON');
  }
  if (!isObject(value)) return malformed('not a JSON object');
  if (value.type === 'entry') {
    const { entry, hash } = value;
    if (!isObject(entry) || !isSeq(entry.seq)) return malformed('entry line without an entry with a positive seq');
    if (!isHashHex(hash)) return malformed('entry line without a lowercase hex SHA-256 hash');
    return { type: 'entry', entry: entry as ExportedEntry, hash };
  }
  if (value.type === 'checkpoint') {
    const { seq, hash, time, signature } = value;
    if (!isSeq(seq)) return malformed('checkpoint line without a positive integer seq');
    if (!isHashHex(hash)) return malformed('checkpoint line without a lowercase hex SHA-256 hash');
    if (typeof time !== 'string') return malformed('checkpoint line without a time');
    if (typeof signature !== 'string' || !BASE64.test(signature)) {
      return malformed('checkpoint line without a base64 signature');
    }
    return { type: 'checkpoint', checkpoint: { seq, hash, time, signature } };
  }
  return malformed('line type is neither "entry" nor "checkpoint"');
}

/** The lines of an export file, streamed (an export of millions of entries is never held whole). */
export function readExportFile(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
}

function malformed(reason: string): ExportLine {
  return { type: 'malformed', reason };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHashHex(value: unknown): value is string {
  return typeof value === 'string' && HASH_HEX.test(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}
