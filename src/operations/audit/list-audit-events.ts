import { needs, validation } from '../../domain/errors.js';
import { parseKeyReference } from '../../domain/ids.js';
import type { LedgerReader } from '../../audit/ledger-store.js';
import { defineOperation } from '../operation.js';
import { validateLimit } from '../paging.js';
import { ledgerEntryView, type LedgerEntryView } from './ledger-entry-view.js';

export interface ListAuditEventsRequest {
  readonly keyId?: string;
  readonly principalArn?: string;
  readonly operation?: string;
  readonly outcome?: string;
  readonly startTime?: Date;
  readonly endTime?: Date;
  readonly limit?: number;
  readonly marker?: string;
  readonly newestFirst?: boolean;
}

export interface ListAuditEventsResponse {
  readonly events: LedgerEntryView[];
  readonly nextMarker: string | undefined;
  readonly truncated: boolean;
}

const MAX_FILTER_LENGTH = 2048;

/**
 * Reads the ledger (issue 6, item 5). Every filter given must match; the caller sees the entries
 * of its own account's principals and those naming its account's keys, as CloudTrail delivers a
 * cross-account call to both accounts. A key filter takes a key id or key ARN, not an alias: the
 * alias may have pointed at another key when the entry was written.
 */
export function listAuditEvents(ledger: Pick<LedgerReader, 'listEntries'>) {
  return defineOperation<ListAuditEventsRequest, ListAuditEventsResponse>({
    name: 'ListAuditEvents',
    action: 'kms:ListAuditEvents',
    keys: {},
    audit: (r) => ({
      keyId: r.keyId,
      principalArn: r.principalArn,
      operation: r.operation,
      outcome: r.outcome,
      startTime: r.startTime,
      endTime: r.endTime,
      limit: r.limit,
      newestFirst: r.newestFirst,
    }),
    validate(request) {
      validateLimit(request.limit);
      for (const [field, value] of Object.entries({
        PrincipalArn: request.principalArn,
        Operation: request.operation,
        Outcome: request.outcome,
      })) {
        needs(value === undefined || value.length <= MAX_FILTER_LENGTH, () =>
          validation(`${field} must be at most ${MAX_FILTER_LENGTH} characters.`),
        );
      }
      if (request.keyId) keyIdFilter(request.keyId);
      needs(
        request.startTime === undefined || request.endTime === undefined || request.startTime <= request.endTime,
        () => validation('StartTime must not be after EndTime.'),
      );
    },
    async run(request, { caller }) {
      const page = await ledger.listEntries({
        account: caller.account,
        keyId: request.keyId ? keyIdFilter(request.keyId) : undefined,
        principalArn: request.principalArn || undefined,
        operation: request.operation || undefined,
        outcome: request.outcome || undefined,
        startTime: request.startTime,
        endTime: request.endTime,
        newestFirst: request.newestFirst ?? false,
        limit: request.limit ?? 100,
        marker: request.marker || undefined,
      });
      return {
        events: page.items.map(ledgerEntryView),
        nextMarker: page.nextMarker,
        truncated: page.nextMarker !== undefined,
      };
    },
  });
}

/** A key id or key ARN → the key id; aliases are refused (see listAuditEvents). */
export function keyIdFilter(reference: string): string {
  const parsed = parseKeyReference(reference, 'KeyId');
  needs(parsed.kind === 'keyId' || parsed.kind === 'keyArn', () =>
    validation('KeyId must be a key id or key ARN; alias names are not supported here.'),
  );
  return parsed.keyId;
}
