import { KmsError } from '../domain/errors.js';
import type { CompiledPolicy } from './document.js';
import type { Decision, NamedPolicy } from './evaluate.js';
import { authorizeKmsRequest, type KmsRequest } from './kms-authorization.js';

/**
 * The policy lockout safety check (AWS KMS API reference, PutKeyPolicy and CreateKey,
 * BypassPolicyLockoutSafetyCheck): a new key policy is refused when, under it, the principal making
 * the request could not make a subsequent PutKeyPolicy request on the key — unless the caller sets
 * BypassPolicyLockoutSafetyCheck. The caller's identity policies take part, as they would in that
 * later request; grants cannot, since no grant operation is PutKeyPolicy.
 */
export const LOCKOUT_MESSAGE = 'The new key policy will not allow you to update the key policy in the future.';

export interface LockoutCheckInput {
  readonly newPolicy: CompiledPolicy;
  /** The PutKeyPolicy (or CreateKey) request; its action is replaced by kms:PutKeyPolicy. */
  readonly request: Omit<KmsRequest, 'action' | 'resource'>;
  readonly keyArn: string;
  readonly keyAccount: string;
  readonly identityPolicies: readonly NamedPolicy[];
  readonly bypassPolicyLockoutSafetyCheck: boolean;
}

/**
 * Returns the decision for the later PutKeyPolicy (undefined when bypassed) or throws
 * MalformedPolicyDocumentException, as AWS KMS does, when that decision is Deny.
 */
export function checkPolicyLockout(input: LockoutCheckInput): Decision | undefined {
  if (input.bypassPolicyLockoutSafetyCheck) return undefined;
  const decision = authorizeKmsRequest({
    keyPolicy: input.newPolicy,
    identityPolicies: input.identityPolicies,
    request: { ...input.request, action: 'kms:PutKeyPolicy', resource: input.keyArn },
    keyAccount: input.keyAccount,
  });
  if (decision.decision === 'Deny') throw new KmsError('MalformedPolicyDocumentException', LOCKOUT_MESSAGE);
  return decision;
}
