import type { LedgerReader } from '../../audit/ledger-store.js';
import { getAuditPublicKey } from './get-audit-public-key.js';
import { getKeyLastUsage } from './get-key-last-usage.js';
import { getLedgerHead } from './get-ledger-head.js';
import { listAuditEvents } from './list-audit-events.js';
import { listCheckpoints } from './list-checkpoints.js';

export interface AuditOperationsSource {
  readonly ledger: LedgerReader;
  /** The audit key's SubjectPublicKeyInfo PEM, read from the token at start. */
  readonly publicKeyPem: string;
}

/** The AuditService's operations (audit.proto), each run through the pipeline like any KMS operation. */
export function auditOperations({ ledger, publicKeyPem }: AuditOperationsSource) {
  return {
    listAuditEvents: listAuditEvents(ledger),
    getLedgerHead: getLedgerHead(ledger),
    listCheckpoints: listCheckpoints(ledger),
    getAuditPublicKey: getAuditPublicKey(publicKeyPem),
    getKeyLastUsage: getKeyLastUsage(ledger),
  };
}

export type AuditOperations = ReturnType<typeof auditOperations>;
