/**
 * Runs the token calls that requests make during one event-loop turn back to back, in the next
 * check phase (setImmediate), instead of each in the middle of its own request.
 *
 * Why: SoftHSM2's C_EncryptInit for AES-GCM walks a large body of C++ and OpenSSL code (object
 * lookup, attribute decryption, cipher context and GHASH table set-up). Called once between two
 * requests' worth of gRPC, TLS and policy code, it finds that code out of the CPU caches. Timed
 * inside the server under the Encrypt bench (64 in flight, 24,039 calls, wall time around each call
 * less the ~10 µs the timing itself took): the first C_EncryptInit of a request took ~37 µs, a
 * second one right after it ~21 µs. Batched, one cold call is shared by the batch (mean 18 calls
 * per batch at 64 in flight): in four interleaved pairs of `npm run bench:profile -- --no-profile`
 * runs the server spent 322/366/326/351 µs of CPU per request against 342/387/355/359 without
 * batching.
 *
 * Each call still runs alone (synchronous calls cannot overlap), in the order it was queued; one
 * that throws rejects only its own promise. Other work runs between queueing and the call, so a
 * handle taken before must outlive that turn: a working copy that is replaced stays usable for
 * retiredCopyGraceMs (working-copies.ts), as it does for a call queued to an operation worker.
 */
export class TurnBatch {
  #jobs: Job[] = [];

  /** Queues `call` for this turn's batch; the promise settles with its result or its error. */
  run<T>(call: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#jobs.length === 0) setImmediate(this.#flush);
      this.#jobs.push({ call, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** Resolves once every call queued so far has run (before the token's sessions close). */
  settled(): Promise<void> {
    // A call queued last runs after every call queued before it.
    return this.#jobs.length === 0 ? Promise.resolve() : this.run(() => undefined);
  }

  readonly #flush = (): void => {
    const jobs = this.#jobs;
    this.#jobs = [];
    for (const job of jobs) {
      try {
        job.resolve(job.call());
      } catch (error) {
        job.reject(error as Error);
      }
    }
  };
}

interface Job {
  readonly call: () => unknown;
  resolve(value: unknown): void;
  reject(error: Error): void;
}
