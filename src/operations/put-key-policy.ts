import { needs, validation } from '../domain/errors.js';
import { validatePolicyName, validatePolicySize } from './key-policy.js';
import { defineOperation } from './operation.js';

export interface PutKeyPolicyRequest {
  readonly keyId?: string;
  readonly policyName?: string;
  readonly policy?: string;
  readonly bypassPolicyLockoutSafetyCheck?: boolean;
}

/**
 * AWS KMS PutKeyPolicy: replaces the key policy after checking it parses and that it would still
 * let the caller change it again (the lockout safety check), unless the caller bypasses that.
 */
export const putKeyPolicy = defineOperation<PutKeyPolicyRequest, Record<string, never>, 'key'>({
  name: 'PutKeyPolicy',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:PutKeyPolicy', stateRules: 'PutKeyPolicy' } },
  conditions: (r) => ({ keys: { 'kms:BypassPolicyLockoutSafetyCheck': r.bypassPolicyLockoutSafetyCheck === true } }),
  audit: (r) => ({ keyId: r.keyId, policyName: r.policyName, bypassPolicyLockoutSafetyCheck: r.bypassPolicyLockoutSafetyCheck }),
  validate(request) {
    needs(request.policy !== undefined, () => validation('Policy is required.'));
    validatePolicyName(request.policyName);
    validatePolicySize(request.policy);
  },
  async run(request, { store, policies, caller, keys: { key } }) {
    policies.validate(request.policy!);
    policies.checkLockout({
      principal: caller.principal,
      callerAccount: caller.account,
      conditions: caller.conditions,
      keyArn: key.arn,
      keyAccount: key.account,
      policy: request.policy!,
      bypass: request.bypassPolicyLockoutSafetyCheck === true,
    });
    await store.putKeyPolicy(key.id, request.policy!);
    return {};
  },
});
