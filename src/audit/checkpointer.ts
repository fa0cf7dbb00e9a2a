import { createHash, createPublicKey } from 'node:crypto';
import type { AuditSigningHsm } from '../ports/hsm.js';
import type { Clock } from '../ports/clock.js';
import type { ChainHead } from './chain.js';
import { type Checkpoint, type CheckpointSigner, signCheckpoint } from './checkpoint.js';
import type { CommitListener } from './ledger.js';
import type { LedgerAppendStore } from './ledger-store.js';

/** The token-resident audit key as a CheckpointSigner: SHA-256 on the host, raw ECDSA in the token. */
export function hsmCheckpointSigner(hsm: Pick<AuditSigningHsm, 'signAuditDigest'>): CheckpointSigner {
  return { sign: (payload) => hsm.signAuditDigest(createHash('sha256').update(payload).digest()) };
}

export interface CheckpointerLogger {
  error(fields: object, message: string): void;
}

export interface CheckpointerOptions {
  readonly store: Pick<LedgerAppendStore, 'appendCheckpoint' | 'lastCheckpoint'>;
  readonly signer: CheckpointSigner;
  readonly clock: Clock;
  readonly logger: CheckpointerLogger;
  /** Sign once the head is this many entries past the last checkpoint (issue 6: "every N entries"). */
  readonly everyEntries: number;
  /** …or when this much time has passed with unsigned entries ("or T seconds"); 0 turns the timer off. */
  readonly intervalMs: number;
}

export const DEFAULT_CHECKPOINT_EVERY_ENTRIES = 1000;
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 10_000;

/**
 * Signs the committed head (seq, hash, time) with the audit key every N entries or T seconds, and
 * once more on close, and stores the checkpoints with the chain (issue 6, item 4). One signature is
 * in flight at a time; a head that comes due meanwhile replaces any head still waiting, so a slow
 * token makes checkpoints sparser, never out of order. A failed signature or write is logged and
 * retried by the next trigger: checkpoints vouch for the chain, they do not gate requests.
 */
export class Checkpointer implements CommitListener {
  #latest: ChainHead;
  /** Highest seq stored as a checkpoint (0: none). */
  #lastStored: number;
  #wanted: ChainHead | undefined;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastSignedAt: number;

  private constructor(
    private readonly options: CheckpointerOptions,
    head: ChainHead,
    lastStored: number,
  ) {
    if (!Number.isSafeInteger(options.everyEntries) || options.everyEntries < 1) {
      throw new RangeError('checkpoint everyEntries must be ≥ 1');
    }
    this.#latest = head;
    this.#lastStored = lastStored;
    this.#lastSignedAt = options.clock.now().getTime();
  }

  /** Starts from the stored checkpoints; a head already past the last one is signed at once. */
  static async open(options: CheckpointerOptions, head: ChainHead): Promise<Checkpointer> {
    const last = await options.store.lastCheckpoint();
    const checkpointer = new Checkpointer(options, head, last?.seq ?? 0);
    if (head.seq > checkpointer.#lastStored) checkpointer.#request(head);
    if (options.intervalMs > 0) {
      checkpointer.#timer = setInterval(() => checkpointer.#tick(), Math.max(10, options.intervalMs / 4));
      checkpointer.#timer.unref();
    }
    return checkpointer;
  }

  /** CommitListener: called by the ledger after every committed batch. */
  committed(head: ChainHead): void {
    this.#latest = head;
    const since = Math.max(this.#lastStored, this.#wanted?.seq ?? 0);
    if (head.seq - since >= this.options.everyEntries) this.#request(head);
  }

  /** Signs the latest committed head if no checkpoint covers it yet; resolves once stored. */
  async checkpointNow(): Promise<void> {
    this.#request(this.#latest);
    await this.idle();
  }

  /** Resolves when no checkpoint is being signed or waiting. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops the timer and signs the final head, so an export taken after shutdown is vouched for to its end. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.checkpointNow();
  }

  #tick(): void {
    const due = this.options.clock.now().getTime() - this.#lastSignedAt >= this.options.intervalMs;
    if (due && this.#latest.seq > this.#lastStored) this.#request(this.#latest);
  }

  #request(head: ChainHead): void {
    if (head.seq <= Math.max(this.#lastStored, this.#wanted?.seq ?? 0)) return;
    this.#wanted = head;
    this.#running ??= this.#run().finally(() => (this.#running = undefined));
  }

  async #run(): Promise<void> {
    for (let head = this.#wanted; head !== undefined; head = this.#wanted) {
      this.#wanted = undefined;
      if (head.seq <= this.#lastStored) continue;
      try {
        const checkpoint: Checkpoint = await signCheckpoint(this.options.signer, head, this.options.clock.now());
        await this.options.store.appendCheckpoint(checkpoint);
        this.#lastStored = checkpoint.seq;
        this.#lastSignedAt = this.options.clock.now().getTime();
      } catch (error) {
        this.options.logger.error({ err: error, seq: head.seq }, 'audit checkpoint failed; the next trigger retries');
      }
    }
  }
}

/** The SubjectPublicKeyInfo PEM of the audit key, as exported for offline verification. */
export function auditPublicKeyPem(spkiDer: Buffer): string {
  return createPublicKey({ key: spkiDer, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
}
