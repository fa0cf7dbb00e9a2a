import { type ChainedEntry, type ChainHead, GENESIS_HEAD } from '../../../src/audit/chain.js';
import type { Checkpoint } from '../../../src/audit/checkpoint.js';
import type { LedgerAppendStore } from '../../../src/audit/ledger-store.js';

/**
 * A LedgerAppendStore in memory that counts transactions, checks the head like the SQLite writer
 * does, answers asynchronously (as a commit on another thread would), and can be told to fail.
 */
export class MemoryLedgerStore implements LedgerAppendStore {
  readonly entries: ChainedEntry[] = [];
  readonly checkpoints: Checkpoint[] = [];
  /** Sizes of the committed transactions, in order. */
  readonly transactions: number[] = [];
  failing: Error | undefined;
  failingCheckpoints: Error | undefined;
  /** Milliseconds each commit takes. */
  commitDelayMs = 1;
  /** Like the SQLite writer thread: appends are applied one after another, in call order. */
  appendsInOrder = false;
  /** Fail only the next append with this error. */
  failingOnce: Error | undefined;
  /** The most appendEntries calls that were in progress at once. */
  maxConcurrentAppends = 0;
  #inProgress = 0;
  #queue: Promise<unknown> = Promise.resolve();

  async readHead(): Promise<ChainHead> {
    const last = this.entries.at(-1);
    return last ? { seq: last.entry.seq, hash: last.hash } : GENESIS_HEAD;
  }

  async appendEntries(after: ChainHead, entries: readonly ChainedEntry[]): Promise<void> {
    this.maxConcurrentAppends = Math.max(this.maxConcurrentAppends, ++this.#inProgress);
    try {
      if (!this.appendsInOrder) return await this.#append(after, entries);
      const done = this.#queue.then(() => this.#append(after, entries));
      this.#queue = done.catch(() => undefined);
      return await done;
    } finally {
      this.#inProgress--;
    }
  }

  async #append(after: ChainHead, entries: readonly ChainedEntry[]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.commitDelayMs));
    if (this.failing) throw this.failing;
    const once = this.failingOnce;
    this.failingOnce = undefined;
    if (once) throw once;
    const head = await this.readHead();
    if (head.seq !== after.seq || !head.hash.equals(after.hash)) throw new Error('another writer appended');
    entries.forEach((chained, index) => {
      if (chained.entry.seq !== after.seq + index + 1) throw new Error('entries are not contiguous');
    });
    this.entries.push(...entries);
    this.transactions.push(entries.length);
  }

  async lastCheckpoint(): Promise<Checkpoint | undefined> {
    return this.checkpoints.at(-1);
  }

  async appendCheckpoint(checkpoint: Checkpoint): Promise<void> {
    if (this.failingCheckpoints) throw this.failingCheckpoints;
    const last = this.checkpoints.at(-1);
    if (last && checkpoint.seq <= last.seq) throw new Error('checkpoint seqs must increase');
    this.checkpoints.push(checkpoint);
  }

  async close(): Promise<void> {}
}
