import { createHash, hash as oneShotHash } from 'node:crypto';
import type { AuditEvent } from '../ports/audit-sink.js';
import { canonicalEntry, type EntryKind, entryFromEvent, type LedgerEntry } from './entry.js';

/**
 * The hash "before" seq 1: SHA-256 of the ASCII bytes 'p11kms-ledger-genesis-v1', i.e.
 * dc5a0d8cf65e7195ced2d7945955f6bf54b1dc0084e8fd6d546057d02e1df3e8. Fixed, so that a verifier needs
 * nothing but the export; versioned, so that a future entry format starts a visibly different chain.
 */
export const GENESIS_HASH: Buffer = createHash('sha256').update('p11kms-ledger-genesis-v1', 'ascii').digest();

export const HASH_BYTES = 32;

/** The last entry of a chain: seq 0 with GENESIS_HASH for an empty ledger. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: Buffer;
}

export const GENESIS_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

/** hash(seq) = SHA-256(hash(seq − 1) ‖ UTF-8(canonical(entry))) — DESIGN.md "AuditLedger", issue 6 item 2. */
export function chainHash(prevHash: Buffer, canonical: string): Buffer {
  if (prevHash.length !== HASH_BYTES) throw new RangeError(`previous hash must be ${HASH_BYTES} bytes`);
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  if (canonical.length * 3 > SCRATCH_BYTES - HASH_BYTES) {
    return createHash('sha256').update(prevHash).update(canonical, 'utf8').digest();
  }
  // Every request's entry is hashed: one call over the two parts laid side by side in a buffer
  // kept for every call, rather than a Hash object (a stream) and its state per entry.
  prevHash.copy(scratch, 0);
  const length = HASH_BYTES + scratch.write(canonical, HASH_BYTES, 'utf8');
  return oneShotHash('sha256', scratch.subarray(0, length), 'buffer');
}

const SCRATCH_BYTES = 16 * 1024;
/** Holds an entry's text for the moment it is hashed (audit text holds no secrets: DESIGN.md invariant 4). */
const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);

export interface ChainedEntry {
  readonly entry: LedgerEntry;
  /** What is stored and hashed. */
  readonly canonical: string;
  readonly hash: Buffer;
}

/**
 * Extends a chain from a known head, one entry at a time. The store starts one from the head it
 * reads inside its append transaction; if that transaction does not commit, it must drop the builder
 * and start again from the stored head, since this one has moved on.
 */
export class ChainBuilder {
  #head: ChainHead;

  constructor(head: ChainHead = GENESIS_HEAD) {
    if (!Number.isSafeInteger(head.seq) || head.seq < 0) throw new RangeError('chain head seq must be ≥ 0');
    if (head.hash.length !== HASH_BYTES) throw new RangeError(`chain head hash must be ${HASH_BYTES} bytes`);
    this.#head = { seq: head.seq, hash: Buffer.from(head.hash) };
  }

  get head(): ChainHead {
    return this.#head;
  }

  /** Records `event` as the next entry. */
  append(event: AuditEvent, kind: EntryKind = 'request'): ChainedEntry {
    return this.appendEntry(entryFromEvent(event, this.#head.seq + 1, kind));
  }

  /** Precondition: the entry's seq is the head's seq + 1 (the chain has no gaps). */
  appendEntry(entry: LedgerEntry): ChainedEntry {
    const expected = this.#head.seq + 1;
    if (entry.seq !== expected) throw new RangeError(`next ledger entry must have seq ${expected}, got ${entry.seq}`);
    const canonical = canonicalEntry(entry);
    const hash = chainHash(this.#head.hash, canonical);
    this.#head = { seq: entry.seq, hash };
    return { entry, canonical, hash };
  }
}
