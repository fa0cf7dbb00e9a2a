import type { LedgerReader } from '../../audit/ledger-store.js';
import { defineOperation } from '../operation.js';
import { keyIdFilter } from './list-audit-events.js';

export interface GetKeyLastUsageRequest {
  readonly keyId?: string;
}

export interface GetKeyLastUsageResponse {
  readonly keyId: string;
  readonly keyCreationDate: Date;
  readonly trackingStartDate: Date;
  readonly keyLastUsage:
    | { readonly operation: string; readonly timestamp: Date; readonly kmsRequestId: string; readonly ledgerSeq: number }
    | undefined;
}

/** AWS KMS KeyLastUsageData.Operation's values: the cryptographic operations. */
export const CRYPTOGRAPHIC_OPERATIONS = [
  'Decrypt',
  'DeriveSharedSecret',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'ReEncrypt',
  'Sign',
  'Verify',
  'VerifyMac',
] as const;

/**
 * AWS KMS GetKeyLastUsage, answered from the ledger: the last successful cryptographic operation
 * with the key (ReEncrypt counts for both of its keys), and since when that is known —
 * TrackingStartDate is the ledger's first entry or the key's creation, whichever is later. Key id
 * or key ARN only, as in AWS KMS; the key must exist, in any state.
 */
export function getKeyLastUsage(ledger: Pick<LedgerReader, 'lastSuccessfulUse' | 'firstEntryTime'>) {
  return defineOperation<GetKeyLastUsageRequest, GetKeyLastUsageResponse, 'key'>({
    name: 'GetKeyLastUsage',
    keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:GetKeyLastUsage', stateRules: 'DescribeKey' } },
    audit: (r) => ({ keyId: r.keyId }),
    validate: (r) => void keyIdFilter(r.keyId ?? ''),
    async run(_request, { keys }) {
      const key = keys.key;
      const [used, ledgerStart] = await Promise.all([
        ledger.lastSuccessfulUse(key.id, CRYPTOGRAPHIC_OPERATIONS),
        ledger.firstEntryTime(),
      ]);
      const trackingStartDate =
        ledgerStart !== undefined && ledgerStart > key.createdAt ? ledgerStart : key.createdAt;
      return {
        keyId: key.arn,
        keyCreationDate: key.createdAt,
        trackingStartDate,
        keyLastUsage: used && {
          operation: used.entry.operation,
          timestamp: new Date(used.entry.time),
          kmsRequestId: used.entry.requestId,
          ledgerSeq: used.entry.seq,
        },
      };
    },
  });
}
