import type { AuditEvent, AuditSink } from '../ports/audit-sink.js';
import { ChainBuilder, type ChainedEntry, type ChainHead } from './chain.js';
import type { EntryKind } from './entry.js';
import type { LedgerAppendStore } from './ledger-store.js';

/** Thrown to every request whose entry could not be made durable: the request must fail (invariant 3). */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

export interface LedgerLogger {
  error(fields: object, message: string): void;
}

/** Told of every committed head, to sign checkpoints (checkpointer.ts). */
export interface CommitListener {
  committed(head: ChainHead): void;
}

export interface LedgerOptions {
  readonly store: Pick<LedgerAppendStore, 'readHead' | 'appendEntries' | 'appendsInOrder'>;
  readonly logger: LedgerLogger;
  /** Upper bound on the entries of one transaction (default DEFAULT_MAX_BATCH_ENTRIES). */
  readonly maxBatchEntries?: number;
  /**
   * How many batches may be on their way to the store at once: by default 2 for a store that
   * applies appends in the order they are made (store.appendsInOrder: the SQLite writer thread),
   * else 1. The next batch is then chained on the head the previous one will leave, and waits in
   * the writer's queue instead of behind a round trip between threads (under the Encrypt bench a
   * batch took ~3.6 ms there and back, of which ~1.7 ms in the writer).
   */
  readonly maxBatchesInFlight?: number;
  readonly onCommit?: CommitListener;
}

export const DEFAULT_MAX_BATCH_ENTRIES = 256;

/**
 * How many requests of a committed batch resume per event-loop turn. Each resumes into the rest
 * of its request (for an in-process caller, often the whole next request), so releasing a batch of
 * 64 at once ran ~6 ms of work in one turn: the writer's next acknowledgement waited behind it,
 * and every request finished into the same next batch, in lock step (bench:ledger, mean batch 64,
 * the event loop idle ~12% of the time while that one batch was written). Slices of 16 let the
 * acknowledgements in between and split the convoy: ratio 0.68 → 0.74 in the same run.
 */
export const RELEASE_SLICE = 16;

/** Counters for tests, benchmarks and metrics: one batch is one transaction (one fsync). */
export interface LedgerStats {
  batches: number;
  entries: number;
  largestBatch: number;
  failedBatches: number;
}

interface Waiter {
  readonly event: AuditEvent;
  readonly kind: EntryKind;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * The hash-chained audit ledger as an AuditSink (issue 6, items 2–3): `record` resolves only once
 * the entry is durable, so the pipeline answers no request before its entry is stored.
 *
 * Group commit — the batch policy:
 *  1. `record` queues the event; nothing is written yet.
 *  2. When no batch is being written, the first queued event schedules a flush with setImmediate,
 *     after the I/O callbacks of the current event-loop turn: every request that finished in that
 *     turn joins the same batch. An idle ledger thus writes a lone entry on the next tick, with no
 *     timer to wait for.
 *  3. While a batch is being written, new events only queue; the moment that write settles, the
 *     next batch takes everything queued. Under load a batch therefore holds the requests that
 *     finished during the previous commit, and there is one fsync per batch, not per request.
 *  4. A batch holds at most `maxBatchEntries` (default 256); beyond that, batches follow back to back.
 * Entries are numbered and chained when their batch is written, from the head the last committed
 * batch left, so a failed batch never leaves a gap or a fork behind it.
 *
 * Fail closed: if the batch's transaction fails, every request in it is rejected with
 * LedgerUnavailableError, and the chain head is re-read from the store before the next batch
 * (the failed batch moved only a throwaway ChainBuilder). An event that cannot become an entry at
 * all (bytes in its parameters: entryFromEvent) fails its own request only.
 */
export class Ledger implements AuditSink {
  readonly stats: LedgerStats = { batches: 0, entries: 0, largestBatch: 0, failedBatches: 0 };

  /** The head of the last committed batch. */
  #head: ChainHead;
  /** The head the last batch sent will leave: what the next batch is chained on. */
  #chainHead: ChainHead;
  readonly #pending: Waiter[] = [];
  #scheduled = false;
  readonly #writes = new Set<Promise<void>>();
  /** Set when a batch failed: later batches wait for the writes in flight, then re-read the head. */
  #resyncing: Promise<void> | undefined;
  #closed = false;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;

  private constructor(
    private readonly options: LedgerOptions,
    head: ChainHead,
  ) {
    this.#head = head;
    this.#chainHead = head;
    this.#maxBatch = options.maxBatchEntries ?? DEFAULT_MAX_BATCH_ENTRIES;
    this.#maxInFlight = options.maxBatchesInFlight ?? (options.store.appendsInOrder ? 2 : 1);
    if (!Number.isSafeInteger(this.#maxBatch) || this.#maxBatch < 1) throw new RangeError('maxBatchEntries must be ≥ 1');
    if (!Number.isSafeInteger(this.#maxInFlight) || this.#maxInFlight < 1) throw new RangeError('maxBatchesInFlight must be ≥ 1');
  }

  /** Continues the chain from the stored head (across restarts). */
  static async open(options: LedgerOptions): Promise<Ledger> {
    return new Ledger(options, await options.store.readHead());
  }

  /** The head of the last committed batch. */
  get head(): ChainHead {
    return this.#head;
  }

  /** Records a request (or, when the event says so, background work). */
  record(event: AuditEvent): Promise<void> {
    return this.append(event, event.kind ?? 'request');
  }

  /** A sink whose events are entries of `kind` unless they say otherwise: the scheduler's is 'background'. */
  sink(kind: EntryKind): AuditSink {
    return { record: (event) => this.append(event, event.kind ?? kind) };
  }

  append(event: AuditEvent, kind: EntryKind): Promise<void> {
    if (this.#closed) return Promise.reject(new LedgerUnavailableError('the audit ledger is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ event, kind, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when every event recorded so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.#writes.size > 0 || this.#scheduled || this.#pending.length > 0 || this.#resyncing) {
      if (this.#writes.size > 0) await Promise.allSettled(this.#writes);
      else if (this.#resyncing) await this.#resyncing;
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Writes what is queued, then refuses further events. The store stays open: its owner closes it. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #schedule(): void {
    if (this.#scheduled || this.#resyncing || this.#writes.size >= this.#maxInFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#send();
    });
  }

  /** Sends the next batch (up to maxBatchEntries of what is queued); more follow as slots free up. */
  #send(): void {
    if (this.#pending.length === 0 || this.#resyncing || this.#writes.size >= this.#maxInFlight) return;
    const write: Promise<void> = this.#write(this.#pending.splice(0, this.#maxBatch)).finally(() => {
      this.#writes.delete(write);
      // Waiters resolved by this batch may have recorded again meanwhile.
      if (this.#pending.length > 0) this.#schedule();
    });
    this.#writes.add(write);
    if (this.#pending.length > 0) this.#schedule();
  }

  async #write(batch: Waiter[]): Promise<void> {
    const after = this.#chainHead;
    const chain = new ChainBuilder(after);
    const accepted: Array<{ waiter: Waiter; chained: ChainedEntry }> = [];
    for (const waiter of batch) {
      try {
        accepted.push({ waiter, chained: chain.append(waiter.event, waiter.kind) });
      } catch (error) {
        waiter.reject(error as Error);
      }
    }
    if (accepted.length === 0) return;
    this.#chainHead = chain.head;

    let stored: ChainHead | void;
    try {
      stored = await this.options.store.appendEntries(
        after,
        accepted.map(({ chained }) => chained),
      );
    } catch (error) {
      this.stats.failedBatches++;
      this.options.logger.error(
        { err: error, entries: accepted.length, afterSeq: after.seq },
        'audit ledger write failed: failing every request of the batch',
      );
      const failure = new LedgerUnavailableError('the audit ledger could not record the request', { cause: error });
      for (const { waiter } of accepted) waiter.reject(failure);
      // Batches sent after this one were chained on its head: their store rejects them too. Once
      // they have all settled, the stored head is the truth again.
      this.#resyncing ??= this.#resyncAfterWrites().finally(() => {
        this.#resyncing = undefined;
        if (this.#pending.length > 0) this.#schedule();
      });
      return;
    }

    // A shared store (several replicas) may have re-chained the batch after their entries.
    this.#head = stored ?? chain.head;
    if (stored && this.#writes.size <= 1) this.#chainHead = stored;
    this.stats.batches++;
    this.stats.entries += accepted.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, accepted.length);
    this.options.onCommit?.committed(this.#head);
    releaseInSlices(accepted, 0);
  }

  async #resyncAfterWrites(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // let the failing write leave #writes
    const others = [...this.#writes];
    await Promise.allSettled(others);
    await this.#resync();
    this.#chainHead = this.#head;
  }

  /** After a failed batch: the stored head is the truth (another writer may also have moved it). */
  async #resync(): Promise<void> {
    try {
      this.#head = await this.options.store.readHead();
    } catch (error) {
      // Keep the head of the last committed batch: the failed one wrote nothing. If the store moved
      // on anyway, the next batch's head check fails and brings us back here.
      this.options.logger.error({ err: error }, 'audit ledger head could not be re-read');
    }
  }
}

/** Resolves the waiters of a committed batch, RELEASE_SLICE per event-loop turn. */
function releaseInSlices(accepted: ReadonlyArray<{ waiter: Waiter }>, from: number): void {
  const end = Math.min(from + RELEASE_SLICE, accepted.length);
  for (let i = from; i < end; i++) accepted[i]!.waiter.resolve();
  if (end < accepted.length) setImmediate(() => releaseInSlices(accepted, end));
}
