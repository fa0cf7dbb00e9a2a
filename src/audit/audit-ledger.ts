import type { AuditSigningHsm } from '../ports/hsm.js';
import type { Clock } from '../ports/clock.js';
import { auditPublicKey } from './checkpoint.js';
import {
  auditPublicKeyPem,
  Checkpointer,
  DEFAULT_CHECKPOINT_EVERY_ENTRIES,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  hsmCheckpointSigner,
} from './checkpointer.js';
import { Ledger } from './ledger.js';
import type { LedgerAppendStore } from './ledger-store.js';

export interface AuditLedgerSettings {
  readonly checkpointEveryEntries?: number;
  readonly checkpointIntervalMs?: number;
  readonly maxBatchEntries?: number;
  /** LedgerOptions.maxBatchesInFlight; by default the ledger's own choice for the store. */
  readonly maxBatchesInFlight?: number;
}

export interface AuditLedgerOptions {
  readonly store: LedgerAppendStore;
  readonly hsm: AuditSigningHsm;
  readonly clock: Clock;
  readonly logger: { error(fields: object, message: string): void };
  readonly settings?: AuditLedgerSettings;
}

export interface AuditLedger {
  readonly ledger: Ledger;
  readonly checkpointer: Checkpointer;
  /** The audit key's public half (SPKI PEM), for GetAuditPublicKey and offline verification. */
  readonly publicKeyPem: string;
  /** Writes what is queued, signs a final checkpoint; the store and token stay open for their owner. */
  close(): Promise<void>;
}

/**
 * The ledger as the service runs it: the audit key found (or made once) in the token, the chain
 * continued from the stored head, and checkpoints signed every N entries or T seconds.
 */
export async function openAuditLedger({ store, hsm, clock, logger, settings = {} }: AuditLedgerOptions): Promise<AuditLedger> {
  const { publicKeySpkiDer } = await hsm.ensureAuditSigningKey();
  const publicKeyPem = auditPublicKeyPem(publicKeySpkiDer);
  auditPublicKey(publicKeyPem); // refuses anything but P-256 before a single checkpoint is signed
  const checkpointer = await Checkpointer.open(
    {
      store,
      signer: hsmCheckpointSigner(hsm),
      clock,
      logger,
      everyEntries: settings.checkpointEveryEntries ?? DEFAULT_CHECKPOINT_EVERY_ENTRIES,
      intervalMs: settings.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
    },
    await store.readHead(),
  );
  const ledger = await Ledger.open({ store, logger, maxBatchEntries: settings.maxBatchEntries, maxBatchesInFlight: settings.maxBatchesInFlight, onCommit: checkpointer });
  return {
    ledger,
    checkpointer,
    publicKeyPem,
    async close() {
      await ledger.close();
      await checkpointer.close();
    },
  };
}
