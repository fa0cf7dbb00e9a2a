import { KmsError, dryRunDone } from '../domain/errors.js';
import { defineOperation } from './operation.js';
import { grantNotFound } from './grants.js';

export interface RetireGrantRequest {
  readonly grantToken?: string;
  readonly keyId?: string;
  readonly grantId?: string;
}

/**
 * AWS KMS RetireGrant: by GrantToken, or by KeyId and GrantId. The retiring principal, or the
 * grantee when the grant allows RetireGrant, may retire it whatever the key policy says.
 */
export const retireGrant = defineOperation<RetireGrantRequest, Record<string, never>, 'key'>({
  name: 'RetireGrant',
  dryRun: true,
  keys: {
    key: {
      async ref(request, store) {
        if (request.grantToken) {
          const grant = await store.getGrantByToken(request.grantToken);
          if (!grant) throw new KmsError('InvalidGrantTokenException', 'The grant token is not valid.');
          return grant.keyId;
        }
        if (!request.keyId || !request.grantId) {
          throw new KmsError('ValidationException', 'Specify GrantToken, or KeyId and GrantId.');
        }
        return request.keyId;
      },
      field: 'KeyId',
      action: 'kms:RetireGrant',
      stateRules: 'RetireGrant',
    },
  },
  async conditions(request, { key }, store) {
    const grant = request.grantToken
      ? await store.getGrantByToken(request.grantToken)
      : await store.getGrant(key.id, request.grantId!);
    if (!grant || grant.keyId !== key.id) throw grantNotFound(request.grantId);
    return { grantToRetire: grant };
  },
  audit: (r) => ({ keyId: r.keyId, grantId: r.grantId, byToken: r.grantToken !== undefined && r.grantToken !== '' }),
  async run(request, { store, dryRun, keys: { key } }) {
    const grant = request.grantToken ? await store.getGrantByToken(request.grantToken) : await store.getGrant(key.id, request.grantId!);
    if (grant && dryRun) throw dryRunDone();
    if (!grant || !(await store.deleteGrant(key.id, grant.grantId))) throw grantNotFound(request.grantId);
    return {};
  },
});
