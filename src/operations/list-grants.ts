import { defineOperation } from './operation.js';
import { grantListEntry } from './grants.js';
import { validateLimit } from './paging.js';

export interface ListGrantsRequest {
  readonly keyId?: string;
  readonly limit?: number;
  readonly marker?: string;
  readonly grantId?: string;
  readonly granteePrincipal?: string;
}

/** AWS KMS ListGrants: Limit 1–100 (50 when absent), optionally one grant id or grantee. */
export const listGrants = defineOperation<ListGrantsRequest, ReturnType<typeof grantsPage>, 'key'>({
  name: 'ListGrants',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:ListGrants', stateRules: 'ListGrants' } },
  audit: (r) => ({ keyId: r.keyId, grantId: r.grantId, granteePrincipal: r.granteePrincipal }),
  validate: (r) => validateLimit(r.limit, 100),
  async run(request, { store, keys: { key } }) {
    const page = await store.listGrants(key.id, {
      limit: request.limit ?? 50,
      marker: request.marker || undefined,
      grantId: request.grantId || undefined,
      granteePrincipal: request.granteePrincipal || undefined,
    });
    return grantsPage(page);
  },
});

export function grantsPage(page: { items: Parameters<typeof grantListEntry>[0][]; nextMarker: string | undefined }) {
  return { grants: page.items.map(grantListEntry), nextMarker: page.nextMarker, truncated: page.nextMarker !== undefined };
}
