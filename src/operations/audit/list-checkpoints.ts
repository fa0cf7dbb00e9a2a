import type { Checkpoint } from '../../audit/checkpoint.js';
import type { LedgerReader } from '../../audit/ledger-store.js';
import { defineOperation } from '../operation.js';
import { validateLimit } from '../paging.js';

export interface ListCheckpointsRequest {
  readonly limit?: number;
  readonly marker?: string;
}

export interface ListCheckpointsResponse {
  readonly checkpoints: Checkpoint[];
  readonly nextMarker: string | undefined;
  readonly truncated: boolean;
}

/** The signed checkpoints, oldest first (issue 6, item 4). */
export function listCheckpoints(ledger: Pick<LedgerReader, 'listCheckpoints'>) {
  return defineOperation<ListCheckpointsRequest, ListCheckpointsResponse>({
    name: 'ListCheckpoints',
    action: 'kms:ListCheckpoints',
    keys: {},
    audit: (r) => ({ limit: r.limit }),
    validate: (r) => validateLimit(r.limit),
    async run(request) {
      const page = await ledger.listCheckpoints({ limit: request.limit ?? 100, marker: request.marker || undefined });
      return { checkpoints: page.items, nextMarker: page.nextMarker, truncated: page.nextMarker !== undefined };
    },
  });
}
