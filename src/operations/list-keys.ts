import { defineOperation } from './operation.js';
import { validateLimit } from './paging.js';

export interface ListKeysRequest {
  readonly limit?: number;
  readonly marker?: string;
}

export interface ListKeysResponse {
  readonly keys: Array<{ keyId: string; keyArn: string }>;
  readonly nextMarker: string | undefined;
  readonly truncated: boolean;
}

/** AWS KMS ListKeys: Limit 1–1000 (default 100), an opaque Marker from the previous page. */
export const listKeys = defineOperation<ListKeysRequest, ListKeysResponse>({
  name: 'ListKeys',
  action: 'kms:ListKeys',
  keys: {},
  audit: (request) => ({ limit: request.limit }),
  validate: (request) => validateLimit(request.limit),
  async run(request, { store, caller }) {
    const page = await store.listKeys({
      account: caller.account,
      limit: request.limit ?? 100,
      marker: request.marker || undefined,
    });
    return {
      keys: page.items.map((key) => ({ keyId: key.id, keyArn: key.arn })),
      nextMarker: page.nextMarker,
      truncated: page.nextMarker !== undefined,
    };
  },
});
