import type { KeyObject } from 'node:crypto';
import { chainHash, GENESIS_HASH } from './chain.js';
import { auditPublicKey, type Checkpoint, verifyCheckpoint } from './checkpoint.js';
import { type ExportedEntry, parseExportLine } from './export-format.js';
import { canonicalJson } from './json-value.js';

/**
 * What went wrong, and `firstBadSeq` for each (issue 6, item 6). `head` is the seq of the last entry
 * line read before the bad line (0 at the start).
 *  - 'sequence-break'  an entry line with seq s where head + 1 was due: firstBadSeq = min(s, head + 1).
 *                      Deleted k → k; k and k+1 swapped → k; an extra entry numbered k+1 inserted after
 *                      k → k+1 (the real k+1 then repeats it).
 *  - 'hash-mismatch'   the entry's recomputed chain hash differs from the hash on its line: that seq.
 *                      A field changed in k → k; changed and its own hash rewritten → k+1.
 *  - 'checkpoint-signature'  not signed by the audit key (forged): min(its seq, head + 1).
 *  - 'checkpoint-replayed'   a validly signed checkpoint whose seq is not above the previous
 *                      checkpoint's (replayed, duplicated, going backwards): head, where it was placed.
 *  - 'checkpoint-misplaced'  a valid checkpoint for seq N read only after entry N+1: N + 1.
 *  - 'checkpoint-mismatch'   a valid checkpoint for N whose hash is not the chain's hash at N (the
 *                      suffix was rewritten and rehashed, or the tail replaced): N.
 *  - 'truncated'       the export ends at head but a checkpoint vouches for a later seq: head + 1.
 *  - 'malformed-line'  a line that is not an entry or a checkpoint: head + 1.
 *
 * firstBadSeq is where the export first stops agreeing with itself or with a signed checkpoint. A
 * tamperer who also rewrites hashes moves that point later, but never past the next checkpoint; an
 * altered entry then lies in (verifiedThrough, firstBadSeq], and is exactly firstBadSeq when hashes
 * were left alone. (Past the last checkpoint a rewritten, rehashed tail is invisible: see VerifyResult.)
 * A checkpoint read before the entry it names is held until that entry arrives, so it is not a fault.
 */
export type VerifyFault =
  | 'sequence-break'
  | 'hash-mismatch'
  | 'checkpoint-signature'
  | 'checkpoint-replayed'
  | 'checkpoint-misplaced'
  | 'checkpoint-mismatch'
  | 'truncated'
  | 'malformed-line';

/**
 * `verifiedThrough`: the highest seq vouched for by a valid checkpoint that matched the chain; every
 * entry up to it is exactly as the ledger wrote it. Entries after it are only hash-linked: a tail cut
 * off together with the checkpoints past it cannot be seen from the export alone, so compare `head`
 * with a head obtained earlier (GetLedgerHead) when that matters.
 */
export type VerifyResult =
  | {
      readonly ok: true;
      readonly entries: number;
      readonly checkpoints: number;
      readonly head: { readonly seq: number; readonly hash: string };
      readonly verifiedThrough: number;
    }
  | {
      readonly ok: false;
      readonly firstBadSeq: number;
      readonly fault: VerifyFault;
      readonly reason: string;
      /** 1-based line number of the export where the fault was found. */
      readonly line: number;
      readonly verifiedThrough: number;
    };

export interface VerifyProgress {
  readonly entries: number;
  readonly checkpoints: number;
}

/** onProgress is called after every this many entries, and once at the end. */
export const PROGRESS_EVERY = 10_000;

/**
 * Walks an export (export-format.ts) from GENESIS_HASH, one line at a time, holding only the running
 * hash and the checkpoints that name seqs not yet reached. Stops at the first fault.
 */
export async function verifyExport(
  lines: AsyncIterable<string>,
  publicKeyPem: string | Buffer,
  onProgress?: (progress: VerifyProgress) => void,
): Promise<VerifyResult> {
  const walk = new ChainWalk(auditPublicKey(publicKeyPem));
  let lineNumber = 0;
  const failed = (fault: Fault): VerifyResult => ({
    ok: false,
    ...fault,
    line: lineNumber,
    verifiedThrough: walk.verifiedThrough,
  });

  for await (const text of lines) {
    lineNumber++;
    if (text.length === 0) continue;
    const line = parseExportLine(text);
    const fault =
      line.type === 'entry'
        ? walk.entry(line.entry, line.hash)
        : line.type === 'checkpoint'
          ? walk.checkpoint(line.checkpoint)
          : { firstBadSeq: walk.head + 1, fault: 'malformed-line' as const, reason: line.reason };
    if (fault !== undefined) return failed(fault);
    if (onProgress !== undefined && line.type === 'entry' && walk.head % PROGRESS_EVERY === 0) {
      onProgress({ entries: walk.head, checkpoints: walk.checkpoints });
    }
  }

  const fault = walk.end();
  if (fault !== undefined) return failed(fault);
  onProgress?.({ entries: walk.head, checkpoints: walk.checkpoints });
  const { head, headHex: hash, checkpoints, verifiedThrough } = walk;
  return { ok: true, entries: head, checkpoints, head: { seq: head, hash }, verifiedThrough };
}

interface Fault {
  readonly firstBadSeq: number;
  readonly fault: VerifyFault;
  readonly reason: string;
}

/** The verifier's state between lines; each step answers the fault it found, if any. */
class ChainWalk {
  head = 0;
  headHex = GENESIS_HASH.toString('hex');
  checkpoints = 0;
  verifiedThrough = 0;
  #headHash = GENESIS_HASH;
  #lastCheckpointSeq = 0;
  /** Checkpoints naming seqs past the head, ascending. */
  readonly #ahead: Checkpoint[] = [];

  readonly #publicKey: KeyObject;

  constructor(publicKey: KeyObject) {
    this.#publicKey = publicKey;
  }

  entry(entry: ExportedEntry, lineHash: string): Fault | undefined {
    const seq = entry.seq;
    if (seq !== this.head + 1) {
      const reason = `expected entry ${this.head + 1}, found entry ${seq}`;
      return fault(Math.min(seq, this.head + 1), 'sequence-break', reason);
    }
    const hash = chainHash(this.#headHash, canonicalJson(entry));
    const hex = hash.toString('hex');
    if (hex !== lineHash) return fault(seq, 'hash-mismatch', `entry ${seq} does not hash to the hash beside it`);
    this.head = seq;
    this.#headHash = hash;
    this.headHex = hex;
    if (this.#ahead[0]?.seq === seq) return this.#matchCheckpoint(this.#ahead.shift() as Checkpoint);
    return undefined;
  }

  checkpoint(checkpoint: Checkpoint): Fault | undefined {
    const { seq } = checkpoint;
    if (!verifyCheckpoint(checkpoint, this.#publicKey)) {
      const reason = `checkpoint ${seq} is not signed by the audit key`;
      return fault(Math.min(seq, this.head + 1), 'checkpoint-signature', reason);
    }
    if (seq <= this.#lastCheckpointSeq) {
      const reason = `checkpoint ${seq} follows checkpoint ${this.#lastCheckpointSeq}`;
      return fault(Math.max(this.head, 1), 'checkpoint-replayed', reason);
    }
    if (seq < this.head) {
      return fault(seq + 1, 'checkpoint-misplaced', `checkpoint ${seq} comes after entry ${this.head}`);
    }
    this.#lastCheckpointSeq = seq;
    this.checkpoints++;
    if (seq === this.head) return this.#matchCheckpoint(checkpoint);
    this.#ahead.push(checkpoint);
    return undefined;
  }

  end(): Fault | undefined {
    const missing = this.#ahead[0];
    if (missing === undefined) return undefined;
    const reason = `the export ends at entry ${this.head}, but a signed checkpoint vouches for entry ${missing.seq}`;
    return fault(this.head + 1, 'truncated', reason);
  }

  /** Precondition: the head is the checkpoint's seq. */
  #matchCheckpoint(checkpoint: Checkpoint): Fault | undefined {
    if (checkpoint.hash !== this.headHex) {
      return fault(this.head, 'checkpoint-mismatch', `the chain at ${this.head} differs from its signed checkpoint`);
    }
    this.verifiedThrough = this.head;
    return undefined;
  }
}

function fault(firstBadSeq: number, kind: VerifyFault, reason: string): Fault {
  return { firstBadSeq, fault: kind, reason };
}
