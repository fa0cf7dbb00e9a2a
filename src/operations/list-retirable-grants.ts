import { defineOperation } from './operation.js';
import { validatePrincipalField } from './grants.js';
import { grantsPage } from './list-grants.js';
import { validateLimit } from './paging.js';

export interface ListRetirableGrantsRequest {
  readonly limit?: number;
  readonly marker?: string;
  readonly retiringPrincipal?: string;
}

/** AWS KMS ListRetirableGrants: grants naming a retiring principal; an identity-policy-only action. */
export const listRetirableGrants = defineOperation<ListRetirableGrantsRequest, ReturnType<typeof grantsPage>>({
  name: 'ListRetirableGrants',
  action: 'kms:ListRetirableGrants',
  keys: {},
  audit: (r) => ({ retiringPrincipal: r.retiringPrincipal }),
  validate(request) {
    validatePrincipalField(request.retiringPrincipal, 'RetiringPrincipal', true);
    validateLimit(request.limit, 100);
  },
  async run(request, { store }) {
    const page = await store.listRetirableGrants(request.retiringPrincipal!, {
      limit: request.limit ?? 50,
      marker: request.marker || undefined,
    });
    return grantsPage(page);
  },
});
