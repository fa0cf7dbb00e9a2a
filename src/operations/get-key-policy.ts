import { DEFAULT_POLICY_NAME, validatePolicyName } from './key-policy.js';
import { defineOperation } from './operation.js';

export interface GetKeyPolicyRequest {
  readonly keyId?: string;
  readonly policyName?: string;
}

/** AWS KMS GetKeyPolicy: the document exactly as it was put (or the default policy). */
export const getKeyPolicy = defineOperation<GetKeyPolicyRequest, { policy: string; policyName: string }, 'key'>({
  name: 'GetKeyPolicy',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:GetKeyPolicy', stateRules: 'GetKeyPolicy' } },
  audit: (r) => ({ keyId: r.keyId, policyName: r.policyName }),
  validate: (r) => validatePolicyName(r.policyName),
  async run(_request, { store, policies, keys: { key } }) {
    const policy = (await store.getKeyPolicy(key.id)) ?? policies.defaultPolicy(key.account);
    return { policy, policyName: DEFAULT_POLICY_NAME };
  },
});
