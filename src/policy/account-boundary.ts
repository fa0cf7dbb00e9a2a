import type { AuthorizationDecision, AuthorizationRequest, Authorizer } from '../ports/authorizer.js';

/**
 * The interim rule until key policies are evaluated: a principal may use the keys of its own
 * account, and nothing else. Default deny.
 */
export const accountBoundaryAuthorizer: Authorizer = {
  authorize({ callerAccount, key }: AuthorizationRequest): AuthorizationDecision {
    if (key === undefined) return { allowed: true, reason: 'account-boundary: account-level action in own account' };
    if (key.account === callerAccount) return { allowed: true, reason: 'account-boundary: key in caller account' };
    return { allowed: false, reason: 'account-boundary: key belongs to another account' };
  },
};
