import type { StoredEntry } from '../../audit/ledger-store.js';

/** A ledger entry as the AuditService answers it (audit.proto LedgerEntry). */
export interface LedgerEntryView {
  readonly seq: number;
  readonly time: Date;
  readonly requestId: string;
  readonly operation: string;
  readonly principalArn: string | undefined;
  readonly principalAccount: string | undefined;
  readonly sourceAddress: string;
  readonly keyArns: readonly string[];
  readonly parametersJson: string;
  readonly outcome: string;
  readonly decision: { readonly allowed: boolean; readonly reason: string } | undefined;
  readonly durationMs: number;
  readonly kind: string;
  readonly hash: string;
  /** The canonical JSON the chain hashes, so a reader can check `hash` against the previous one. */
  readonly entryJson: string;
}

export function ledgerEntryView({ entry, canonical, hash }: StoredEntry): LedgerEntryView {
  return {
    seq: entry.seq,
    time: new Date(entry.time),
    requestId: entry.requestId,
    operation: entry.operation,
    principalArn: entry.principalArn ?? undefined,
    principalAccount: entry.principalAccount ?? undefined,
    sourceAddress: entry.sourceAddress,
    keyArns: entry.keyArns,
    parametersJson: JSON.stringify(entry.parameters),
    outcome: entry.outcome,
    decision: entry.decision ?? undefined,
    durationMs: entry.durationMs,
    kind: entry.kind,
    hash,
    entryJson: canonical,
  };
}
