/**
 * Admits requests into the pipeline in bounded turns of the event loop.
 *
 * grpc-js calls a handler for every request it finds in a socket read, all in one callback: under
 * load that is dozens of requests, each running authorization, the token call and the ledger
 * append before the loop can do anything else. The bench probe measured event-loop delays of
 * 20–30 ms that way at 64 calls in flight (issue 8 wants ≤ 5 ms). Here a handler only queues its
 * request. A turn starts queued requests one after another — each as a microtask queued after the
 * one before has run its synchronous part — until the turn has used `budgetMs`; the rest wait
 * for the next turn (a setImmediate scheduled from the check phase runs after the loop has polled
 * I/O, answered committed requests and run due timers). A turn may overrun its budget by the
 * unfinished synchronous work of the requests it started, never by a whole queue.
 */
export class Turns {
  readonly #queue: Array<() => void> = [];
  #next = 0;
  #scheduled = false;
  #turnStarted = 0;

  constructor(private readonly budgetMs = 1) {}

  /** Runs `job` in this or a later turn, after the jobs queued before it. `job` must not throw. */
  run(job: () => void): void {
    this.#queue.push(job);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#turn);
    }
  }

  /** Jobs queued and not yet started. */
  get waiting(): number {
    return this.#queue.length - this.#next;
  }

  readonly #turn = (): void => {
    this.#turnStarted = performance.now();
    this.#startNext();
  };

  readonly #startNext = (): void => {
    const job = this.#queue[this.#next]!;
    this.#queue[this.#next++] = undefined as never; // let the started closure go
    job();
    if (this.#next === this.#queue.length) {
      this.#queue.length = 0;
      this.#next = 0;
      this.#scheduled = false;
      return;
    }
    // Under steady load the queue may never run dry: drop the started slots now and then.
    if (this.#next >= COMPACT_AFTER) {
      this.#queue.splice(0, this.#next);
      this.#next = 0;
    }
    if (performance.now() - this.#turnStarted < this.budgetMs) queueMicrotask(this.#startNext);
    else setImmediate(this.#turn);
  };
}

const COMPACT_AFTER = 1024;
