import { DEFAULT_POLICY_NAME } from './key-policy.js';
import { defineOperation } from './operation.js';
import { validateLimit } from './paging.js';

export interface ListKeyPoliciesRequest {
  readonly keyId?: string;
  readonly limit?: number;
  readonly marker?: string;
}

/** AWS KMS ListKeyPolicies: every key has exactly one policy, "default". */
export const listKeyPolicies = defineOperation<
  ListKeyPoliciesRequest,
  { policyNames: string[]; nextMarker: undefined; truncated: false },
  'key'
>({
  name: 'ListKeyPolicies',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:ListKeyPolicies', stateRules: 'ListKeyPolicies' } },
  audit: (r) => ({ keyId: r.keyId }),
  validate: (r) => validateLimit(r.limit),
  async run() {
    return { policyNames: [DEFAULT_POLICY_NAME], nextMarker: undefined, truncated: false };
  },
});
