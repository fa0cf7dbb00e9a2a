import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isKmsError } from '../domain/errors.js';
import type { KeyRecord } from '../domain/key.js';
import { daysAfter, rotateKey } from '../operations/rotation.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { Clock } from '../ports/clock.js';
import type { Hsm } from '../ports/hsm.js';
import type { KeyMaterialIntent, MetadataStore } from '../ports/metadata-store.js';

/** The ledger's name for the scheduler's destruction of abandoned key material (no AWS KMS operation). */
export const ABANDONED_OPERATION = 'DestroyAbandonedKeyMaterial';

export interface SchedulerLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface KeyLifecycleSchedulerOptions {
  readonly hsm: Hsm;
  readonly store: MetadataStore;
  readonly clock: Clock;
  readonly audit: AuditSink;
  readonly logger: SchedulerLogger;
  /** Keys handled per kind and run; the rest wait for the next run. */
  readonly batchSize?: number;
  /**
   * How old a pending key material intent must be before the scheduler abandons it and destroys
   * its token object (KeyMaterialIntentStore): longer than any CreateKey or rotation takes.
   * Default 15 minutes.
   */
  readonly abandonKeyMaterialAfterMs?: number;
  /**
   * Runs after a key's token objects are destroyed and before its metadata is. Fault injection
   * for tests that prove a crash there is finished by the next run; nothing else sets it.
   */
  readonly betweenDeletionSteps?: (keyId: string) => Promise<void>;
}

export interface SchedulerRun {
  readonly rotated: string[];
  readonly deleted: string[];
  /** Key-version ids whose abandoned token objects this run destroyed. */
  readonly abandoned: string[];
}

/**
 * What a piece of background work did, for the ledger: the key it acted on (none for the material of a
 * CreateKey that never stored its key), or undefined when there was nothing to do.
 */
type Done = { readonly key: KeyRecord | undefined } | undefined;

/** Key material intents older than this are abandoned (KeyLifecycleSchedulerOptions). */
export const DEFAULT_ABANDON_KEY_MATERIAL_AFTER_MS = 15 * 60_000;

/**
 * The background work AWS KMS does on its own: automatic rotation when a key's period has passed,
 * and deletion once a key's waiting period is over; and one of p11kms's own: destroying the token
 * objects a crash left without metadata (KeyMaterialIntentStore in src/ports/metadata-store.ts).
 * Time comes from the clock port, so tests move it forward and call `runOnce` instead of waiting
 * days. Every action is recorded like a request.
 */
export class KeyLifecycleScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SchedulerRun> | undefined;

  constructor(private readonly options: KeyLifecycleSchedulerOptions) {}

  /** One pass; concurrent calls share the pass in progress. */
  runOnce(): Promise<SchedulerRun> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.runOnce().catch((error: unknown) => this.options.logger.error({ err: error }, 'scheduler run failed'));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<SchedulerRun> {
    const { store, clock } = this.options;
    const limit = this.options.batchSize ?? 100;
    const rotated: string[] = [];
    const deleted: string[] = [];
    const abandoned: string[] = [];
    for (const keyId of await store.listKeysDueForRotation(clock.now(), limit)) {
      if (await this.record('RotateKey', { keyId }, () => this.rotate(keyId))) rotated.push(keyId);
    }
    for (const keyId of await store.listKeysDueForDeletion(clock.now(), limit)) {
      if (await this.record('DeleteKey', { keyId }, () => this.delete(keyId))) deleted.push(keyId);
    }
    const staleBefore = new Date(
      clock.now().getTime() - (this.options.abandonKeyMaterialAfterMs ?? DEFAULT_ABANDON_KEY_MATERIAL_AFTER_MS),
    );
    for (const intent of await store.abandonKeyMaterialIntents(staleBefore, limit)) {
      const parameters = {
        keyId: intent.keyId,
        keyVersionId: intent.versionId,
        intentRecordedAt: intent.recordedAt.toISOString(),
      };
      if (await this.record(ABANDONED_OPERATION, parameters, () => this.destroyAbandoned(intent))) {
        abandoned.push(intent.versionId);
      }
    }
    return { rotated, deleted, abandoned };
  }

  /**
   * Destroys the token object of an abandoned intent (none, or one already gone, is not an error),
   * then marks the intent destroyed. A crash between the two repeats the destroy on the next run.
   */
  private async destroyAbandoned(intent: KeyMaterialIntent): Promise<Done> {
    const { hsm, store } = this.options;
    // A rotation's key still exists and owns the entry; a CreateKey's never did.
    const key = await store.getKey(intent.keyId);
    await hsm.destroyKey(intent.versionId);
    await store.markKeyMaterialDestroyed(intent.versionId);
    return { key };
  }

  private async rotate(keyId: string): Promise<Done> {
    const { hsm, store, clock } = this.options;
    const [key, rotation] = await Promise.all([store.getKey(keyId), store.getRotation(keyId)]);
    if (!key || !rotation?.enabled) return undefined;
    const now = clock.now();
    // The store refuses unless the rotation is still due, so a raced run cannot rotate twice.
    await rotateKey(hsm, store, key, now, {
      makeCurrent: true,
      rotationType: 'AUTOMATIC',
      nextRotationAt: daysAfter(now, rotation.periodDays),
    });
    return { key };
  }

  /** Token objects first, then metadata (src/ports/metadata-store.ts, KeyDeletionStore). */
  private async delete(keyId: string): Promise<Done> {
    const { hsm, store } = this.options;
    const key = await store.getKey(keyId);
    if (!key) return undefined;
    for (const version of await store.listKeyVersions(keyId)) await hsm.destroyKey(version.id);
    await this.options.betweenDeletionSteps?.(keyId);
    await store.deleteKeyMetadata(keyId);
    return { key };
  }

  /** Runs one piece of background work and records it in the ledger like a request, unless there was nothing to do. */
  private async record(
    operation: string,
    parameters: { readonly keyId: string } & Record<string, unknown>,
    work: () => Promise<Done>,
  ): Promise<boolean> {
    const started = performance.now();
    let outcome = 'Success';
    let done: Done;
    try {
      done = await work();
      if (done) this.options.logger.info({ operation, ...parameters }, 'background key work');
      return done !== undefined;
    } catch (error) {
      outcome = isKmsError(error) ? error.name : 'KMSInternalException';
      this.options.logger.error({ operation, ...parameters, err: error }, 'background key work failed');
      return false;
    } finally {
      if (done || outcome !== 'Success') {
        const key = done?.key;
        await this.options.audit.record({
          requestId: randomUUID(),
          time: this.options.clock.now(),
          operation,
          principalArn: undefined,
          principalAccount: key?.account,
          sourceAddress: 'p11kms-scheduler',
          keyArns: key ? [key.arn] : [],
          parameters: { ...parameters, background: true },
          outcome,
          decision: undefined,
          durationMs: performance.now() - started,
        });
      }
    }
  }
}
