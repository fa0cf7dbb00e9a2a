import { dryRunDone, needs, validation } from '../domain/errors.js';
import { defineOperation } from './operation.js';
import { grantNotFound } from './grants.js';

export interface RevokeGrantRequest {
  readonly keyId?: string;
  readonly grantId?: string;
}

/** AWS KMS RevokeGrant: a key administrator removes a grant. */
export const revokeGrant = defineOperation<RevokeGrantRequest, Record<string, never>, 'key'>({
  name: 'RevokeGrant',
  dryRun: true,
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:RevokeGrant', stateRules: 'RevokeGrant' } },
  audit: (r) => ({ keyId: r.keyId, grantId: r.grantId }),
  validate: (r) => needs(r.grantId !== undefined && r.grantId !== '', () => validation('GrantId is required.')),
  async run(request, { store, dryRun, keys: { key } }) {
    if (dryRun) throw (await store.getGrant(key.id, request.grantId!)) ? dryRunDone() : grantNotFound(request.grantId);
    if (!(await store.deleteGrant(key.id, request.grantId!))) throw grantNotFound(request.grantId);
    return {};
  },
});
