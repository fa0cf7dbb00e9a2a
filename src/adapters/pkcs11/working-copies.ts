import { HsmKeyNotFoundError } from '../../ports/hsm.js';
import type { WorkingCopySettings } from './vendor-profiles.js';

type Handle = Buffer;

/** The handle operations use for one key object, and whether it is a copy this adapter must destroy. */
export interface WorkingKey {
  readonly handle: Handle;
  /** A session-object copy (true), or the token object itself (copies off, or the token refused). */
  readonly copy: boolean;
}

interface Kept extends WorkingKey {
  readonly cacheKey: string;
  /** How the entry was made, and so how it is made again when its age runs out. */
  readonly make: () => Promise<WorkingKey>;
  /** Whether an operation took this entry since it was made. */
  used: boolean;
  /** Retires the entry when its age runs out; once retired, destroys the copy after the grace. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * The handles that operations with secret and private keys use, keyed like the token-handle cache
 * (`<CKO_*>:<key-version id>`), with the life cycle of working copies (VendorProfile.workingCopies):
 * an entry is made once, shared by every concurrent miss, and made again from the token object
 * when its age runs out. An entry that operations used meanwhile keeps serving until its successor
 * is ready (so a key in steady use never waits for a copy); one that no operation used is dropped,
 * and the next operation makes it again. A replaced copy is destroyed after a grace. With copies
 * off the entries are token handles, kept for the life of the adapter.
 *
 * The copies themselves are made by the caller (`make`); this class only decides when they are
 * used and when they are destroyed, through `destroyCopy`.
 */
export class WorkingCopies {
  /** cacheKey → the entry operations use now. The hot path reads only this map. */
  private readonly current = new Map<string, Kept>();
  /** Copies that aged out and wait for their grace to end before they are destroyed. */
  private readonly retired = new Set<Kept>();
  /** cacheKey → the entry being made, so that concurrent misses make one copy, not one each. */
  private readonly pending = new Map<string, Promise<Handle>>();
  /** Keys that have had an entry: their next miss is an age-out, not a first use. */
  private readonly made = new Set<string>();
  /** Uses of keys that have had no entry yet (countUse). */
  private readonly uses = new Map<string, number>();

  constructor(
    private readonly settings: WorkingCopySettings | false,
    private readonly destroyCopy: (handle: Handle) => Promise<void>,
  ) {}

  /** Whether `cacheKey` never had an entry (since it was last forgotten). */
  firstUse(cacheKey: string): boolean {
    return !this.made.has(cacheKey);
  }

  /**
   * Counts a use of a key that has no entry yet; true once it has been used copyAfterUses times
   * (VendorProfile.workingCopies), i.e. when its entry should be made.
   */
  countUse(cacheKey: string): boolean {
    const threshold = (this.settings && this.settings.copyAfterUses) || 1;
    if (threshold <= 1) return true;
    const uses = (this.uses.get(cacheKey) ?? 0) + 1;
    if (uses >= threshold) {
      this.uses.delete(cacheKey);
      return true;
    }
    this.uses.set(cacheKey, uses);
    return false;
  }

  /** The handle for `cacheKey`, if one is current (the hot path: a Map lookup, and the entry marked used). */
  get(cacheKey: string): Handle | undefined {
    const kept = this.current.get(cacheKey);
    if (kept === undefined) return undefined;
    kept.used = true;
    return kept.handle;
  }

  /** On a miss: the entry `make` gives, made once however many operations missed together. */
  resolve(cacheKey: string, make: () => Promise<WorkingKey>): Promise<Handle> {
    const inFlight = this.pending.get(cacheKey);
    if (inFlight) return inFlight;
    const attempt: Promise<Handle> = make()
      .then((key) => this.adopt(cacheKey, attempt, key, make))
      .finally(() => {
        if (this.pending.get(cacheKey) === attempt) this.pending.delete(cacheKey);
      });
    this.pending.set(cacheKey, attempt);
    return attempt;
  }

  /** Destroys the copies of these keys now, current and retired, and forgets every entry of them. */
  async forget(cacheKeys: readonly string[]): Promise<void> {
    const doomed: Kept[] = [];
    const making: Promise<Handle>[] = [];
    for (const cacheKey of cacheKeys) {
      this.made.delete(cacheKey);
      this.uses.delete(cacheKey);
      const inFlight = this.pending.get(cacheKey);
      if (inFlight) making.push(inFlight);
      this.pending.delete(cacheKey);
      const kept = this.current.get(cacheKey);
      if (!kept) continue;
      this.current.delete(cacheKey);
      clearTimeout(kept.timer);
      if (kept.copy) doomed.push(kept);
    }
    for (const kept of this.retired) if (cacheKeys.includes(kept.cacheKey)) doomed.push(kept);
    await Promise.all(doomed.map((kept) => this.destroy(kept)));
    // A copy being made now sees itself forgotten and is destroyed before its makers hear of it.
    await Promise.allSettled(making);
  }

  /** Destroys every copy, after waiting for those being made (closing their session would also). */
  async close(): Promise<void> {
    const making = [...this.pending.values()];
    this.pending.clear();
    await Promise.allSettled(making);
    const doomed = [...this.current.values()].filter((kept) => kept.copy).concat([...this.retired]);
    for (const kept of this.current.values()) clearTimeout(kept.timer);
    this.current.clear();
    await Promise.allSettled(doomed.map((kept) => this.destroy(kept)));
  }

  private async adopt(cacheKey: string, attempt: Promise<Handle>, key: WorkingKey, make: () => Promise<WorkingKey>): Promise<Handle> {
    if (this.pending.get(cacheKey) !== attempt) {
      // destroyKey or close ran while this entry was being made: the copy must not outlive them.
      if (key.copy) await this.destroyCopy(key.handle);
      throw new HsmKeyNotFoundError('the key version was destroyed while it was being used');
    }
    this.made.add(cacheKey);
    const kept: Kept = { cacheKey, handle: key.handle, copy: key.copy, make, used: false, timer: undefined };
    this.current.set(cacheKey, kept);
    if (this.settings) {
      // Ages spread over the last quarter of maxAgeMs, so copies made together (a cold start) are
      // not all made again in the same instant; none outlives maxAgeMs.
      const age = this.settings.maxAgeMs * (0.75 + Math.random() / 4);
      kept.timer = setTimeout(() => this.expire(kept), age).unref();
    }
    return key.handle;
  }

  /** At the end of an entry's age: made again while it serves, if operations used it; else dropped. */
  private expire(kept: Kept): void {
    if (this.current.get(kept.cacheKey) !== kept) return;
    if (!kept.used || this.pending.has(kept.cacheKey)) {
      this.current.delete(kept.cacheKey);
      this.retire(kept);
      return;
    }
    const attempt: Promise<Handle> = kept
      .make()
      .then((key) => this.adopt(kept.cacheKey, attempt, key, kept.make))
      .finally(() => {
        if (this.pending.get(kept.cacheKey) === attempt) this.pending.delete(kept.cacheKey);
      });
    this.pending.set(kept.cacheKey, attempt);
    attempt.then(
      () => this.retire(kept), // adopt put its successor in its place
      () => {
        // The key is gone or the token failed: the next operation makes the entry and finds out.
        // If forget or close ran meanwhile, they took this entry out and destroy it themselves.
        if (this.current.get(kept.cacheKey) !== kept) return;
        this.current.delete(kept.cacheKey);
        this.retire(kept);
      },
    );
  }

  private retire(kept: Kept): void {
    if (!kept.copy || !this.settings) return;
    this.retired.add(kept);
    kept.timer = setTimeout(() => {
      // A copy that cannot be destroyed now is unusable (no entry names it) and dies with the
      // session that made it when the adapter closes.
      this.destroy(kept).catch(() => undefined);
    }, this.settings.retiredCopyGraceMs).unref();
  }

  private async destroy(kept: Kept): Promise<void> {
    clearTimeout(kept.timer);
    this.retired.delete(kept);
    await this.destroyCopy(kept.handle);
  }
}
