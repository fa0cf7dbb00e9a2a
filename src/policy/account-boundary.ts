import type { AuthorizationDecision, AuthorizationRequest, Authorizer } from '../ports/authorizer.js';

/**
 * A principal may use the keys of its own account, and nothing else. Default deny. Kept for unit
 * tests of the pipeline that are not about policies; the service uses key policies.
 */
export const accountBoundaryAuthorizer: Authorizer = {
  async authorize({ callerAccount, key }: AuthorizationRequest): Promise<AuthorizationDecision> {
    if (key === undefined) return { allowed: true, reason: 'account-boundary: account-level action in own account' };
    if (key.account === callerAccount) return { allowed: true, reason: 'account-boundary: key in caller account' };
    return { allowed: false, reason: 'account-boundary: key belongs to another account' };
  },
};
