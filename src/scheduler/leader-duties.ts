import type { ChainHead } from '../audit/chain.js';
import type { Checkpointer } from '../audit/checkpointer.js';
import type { CommitListener } from '../audit/ledger.js';
import type { LeaderElection } from './leader-election.js';
import type { KeyLifecycleScheduler } from './key-lifecycle-scheduler.js';

export interface LeaderDutiesOptions {
  readonly election: LeaderElection;
  readonly scheduler: Pick<KeyLifecycleScheduler, 'start' | 'stop'>;
  readonly schedulerIntervalMs: number;
  /** Opens the checkpointer from the stored head and the last stored checkpoint. */
  readonly openCheckpointer: () => Promise<Checkpointer>;
  /**
   * The stored ledger head, when other processes append to the same ledger (replicas): the leader
   * reads it every `headPollMs` so it checkpoints their entries too. Absent for a sole process.
   */
  readonly sharedHead?: () => Promise<ChainHead>;
  readonly headPollMs?: number;
  readonly logger: { error(fields: object, message: string): void };
}

/**
 * The work that must run exactly once across replicas, started when this process becomes the
 * leader and stopped when it stops being it: the key lifecycle scheduler (rotation, deletion) and
 * the ledger checkpointer. Every replica's ledger reports its commits here (CommitListener); only
 * the leader's checkpointer signs.
 */
export class LeaderDuties implements CommitListener {
  #checkpointer: Checkpointer | undefined;
  #opening: Promise<void> | undefined;
  #headTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly options: LeaderDutiesOptions) {
    options.election.onChange((leader) => (leader ? this.#lead() : void this.#follow()));
  }

  committed(head: ChainHead): void {
    this.#checkpointer?.committed(head);
  }

  /** Stops the scheduler; the caller then flushes the ledger and calls `close`. */
  async stopScheduler(): Promise<void> {
    this.#closed = true;
    await this.options.scheduler.stop();
  }

  /** Signs a final checkpoint if leading, and steps down. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#headTimer);
    await this.#opening;
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    try {
      if (checkpointer) {
        const head = await this.options.sharedHead?.().catch(() => undefined);
        if (head) checkpointer.committed(head);
        await checkpointer.close();
      }
    } finally {
      await this.options.election.close();
    }
  }

  #lead(): void {
    if (this.#closed) return;
    this.options.scheduler.start(this.options.schedulerIntervalMs);
    this.#opening = this.options
      .openCheckpointer()
      .then((checkpointer) => {
        this.#checkpointer = checkpointer;
        const { sharedHead } = this.options;
        if (sharedHead) {
          this.#headTimer = setInterval(() => {
            sharedHead()
              .then((head) => this.#checkpointer?.committed(head))
              .catch(() => undefined); // the database is away; the next poll tries again
          }, this.options.headPollMs ?? 1000);
          this.#headTimer.unref();
        }
      })
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'leader: the checkpointer could not start'));
  }

  async #follow(): Promise<void> {
    await this.options.scheduler.stop();
    clearInterval(this.#headTimer);
    await this.#opening;
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    // Its last signature is of a head read from the store, so it is true whoever leads now; the
    // store refuses it if the new leader already stored a later one.
    await checkpointer?.close();
  }
}
