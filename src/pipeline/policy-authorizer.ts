import type { CompiledPolicy, Grant, NamedPolicy } from '../policy/index.js';
import { authorizeKmsRequest, checkPolicyLockout, defaultKeyPolicyText, parsePolicy } from '../policy/index.js';
import { EMPTY_IDENTITY_POLICIES, type IdentityPolicySet } from '../policy/identity-policy-set.js';
import { boundedMemo } from '../domain/memo.js';
import type { Principal } from '../domain/principal.js';
import { roleArnOfSession } from '../policy/context.js';
import type { AuthorizationDecision, AuthorizationRequest, Authorizer } from '../ports/authorizer.js';
import type { KeyPolicies } from '../ports/key-policies.js';
import { type Awaitable, isPromise } from '../ports/awaitable.js';

/** Where key policies and grants come from (the metadata store). */
export interface PolicySource {
  getKeyPolicy(keyId: string): Awaitable<string | undefined>;
  grantsForKey(keyId: string): Awaitable<readonly Grant[]>;
}

/**
 * The AWS KMS authorization decision for every request (src/policy/kms-authorization.ts): the key
 * policy (or the AWS default policy where a key has none stored), the caller's identity policies
 * from the operators' file, and the key's grants. Compiled policies are remembered by their text,
 * so no request parses JSON again, and keys with the same policy (most keys of an account, the
 * default policy of every key without one) share one compiled policy: the first request to each of
 * 10,000 keys that share a policy no longer parses it (bench: Encrypt over 10,000 keys).
 */
export class PolicyAuthorizer implements Authorizer, KeyPolicies {
  private readonly compiled = boundedMemo((text): CompiledPolicy => parsePolicy(text, { kind: 'key' }), MAX_COMPILED_POLICIES);
  private identity: IdentityPolicySet = EMPTY_IDENTITY_POLICIES;

  constructor(
    private readonly source: PolicySource,
    private readonly partition: string,
  ) {}

  /** Replaces the identity policies (at start and on SIGHUP); the set was validated whole. */
  useIdentityPolicies(identity: IdentityPolicySet): void {
    this.identity = identity;
  }

  trustsOnBehalfOf(servicePrincipal: string): boolean {
    return this.identity.trustsOnBehalfOf(servicePrincipal);
  }

  /**
   * Synchronous when the key's policy and grants are at hand (the metadata cache's hits, the hot
   * path), so that a request awaits only what is not there yet.
   */
  authorize(request: AuthorizationRequest): Awaitable<AuthorizationDecision> {
    const retiring = retiringRight(request);
    if (retiring) return { allowed: true, reason: retiring };
    const { key } = request;
    if (!key) return this.decide(request, undefined, NO_GRANTS);
    const policy = this.source.getKeyPolicy(key.id);
    const grants = this.source.grantsForKey(key.id);
    if (!isPromise(policy) && !isPromise(grants)) return this.decide(request, policy, grants);
    return Promise.all([policy, grants]).then(([text, found]) => this.decide(request, text, found));
  }

  private decide(request: AuthorizationRequest, policyText: string | undefined, grants: readonly Grant[]): AuthorizationDecision {
    const { key } = request;
    const decision = authorizeKmsRequest({
      keyPolicy: key ? this.compiled(policyText ?? this.defaultPolicy(key.account)) : undefined,
      identityPolicies: this.identityPoliciesOf(request.principal),
      grants,
      keyAccount: key?.account,
      request: {
        principal: request.principal,
        action: request.action,
        resource: key?.arn ?? '*',
        context: request.conditions,
        keyContext: request.keyConditions,
        encryptionContext: request.encryptionContext,
        callerAccount: request.callerAccount,
      },
    });
    return { allowed: decision.decision === 'Allow', reason: decision.reason };
  }

  validate(text: string): void {
    parsePolicy(text, { kind: 'key' });
  }

  defaultPolicy(account: string): string {
    return defaultKeyPolicyText(account, this.partition);
  }

  checkLockout(input: Parameters<KeyPolicies['checkLockout']>[0]): void {
    checkPolicyLockout({
      newPolicy: parsePolicy(input.policy, { kind: 'key' }),
      request: { principal: input.principal, context: input.conditions, callerAccount: input.callerAccount },
      keyArn: input.keyArn,
      keyAccount: input.keyAccount,
      identityPolicies: this.identityPoliciesOf(input.principal),
      bypassPolicyLockoutSafetyCheck: input.bypass,
    });
  }

  identityPoliciesOf(principal: Principal): readonly NamedPolicy[] {
    return this.identity.policiesFor(principal);
  }
}

const NO_GRANTS: readonly Grant[] = Object.freeze([]);

/** Distinct key policy texts kept compiled; as many as the metadata cache keeps keys. */
const MAX_COMPILED_POLICIES = 50_000;

/**
 * AWS KMS RetireGrant: the grant's retiring principal, or its grantee when the grant lists
 * RetireGrant, may retire it without any policy allowing kms:RetireGrant. A role session counts as
 * its role, as it does in a grant's GranteePrincipal.
 */
function retiringRight({ action, principal, grantToRetire: grant }: AuthorizationRequest): string | undefined {
  if (action !== 'kms:RetireGrant' || !grant) return undefined;
  const names = principal.kind === 'assumed-role' ? [principal.arn, roleArnOfSession(principal.arn)] : [principal.arn];
  if (grant.retiringPrincipal && names.includes(grant.retiringPrincipal)) {
    return `Allow: retiring principal of grant ${grant.grantId}`;
  }
  if (names.includes(grant.granteePrincipal) && grant.operations.includes('RetireGrant')) {
    return `Allow: grantee of grant ${grant.grantId}, which allows RetireGrant`;
  }
  return undefined;
}
