import type { EncryptionContext } from '../domain/encryption-context.js';
import type { CompiledPolicy } from './document.js';
import {
  decided,
  examinePolicy,
  prepareRequest,
  type Decision,
  type NamedPolicy,
  type PolicyRequest,
  type StatementOutcome,
  type TraceLine,
} from './evaluate.js';
import { examineGrants, type Grant } from './grants.js';

/**
 * The AWS KMS authorization decision (AWS KMS developer guide, "KMS key access and permissions",
 * "Allowing users in other accounts to use a KMS key", "Grants in AWS KMS"):
 *
 * 1. An explicit Deny in the key policy or any of the caller's identity policies wins, over any
 *    Allow and any grant.
 * 2. Same account: the key policy allows the caller directly; or it names the account (its root),
 *    which delegates to the account's identity policies, and one of them allows.
 * 3. Another account: only the operations AWS KMS permits across accounts, and only when the key
 *    policy allows the caller or its account AND the caller's identity policy allows too.
 * 4. A grant whose grantee is the caller (or its role) allows its operations on its own, in any
 *    account; a grant to an account root delegates like a key policy does.
 * 5. Account-level actions (CreateKey, ListKeys, ListAliases, GenerateRandom, ListRetirableGrants)
 *    have no key: identity policies alone decide them.
 *
 * The account root is not bound by identity policies in its own account, so wherever an identity
 * policy's Allow is needed, the root has it; the key policy must still allow the root.
 */
export const ACCOUNT_LEVEL_ACTIONS: ReadonlySet<string> = new Set([
  'kms:CreateKey', 'kms:ListKeys', 'kms:ListAliases', 'kms:GenerateRandom', 'kms:ListRetirableGrants',
  // p11kms's AuditService reads name no key: like ListKeys, identity policies alone decide them.
  'kms:ListAuditEvents', 'kms:GetLedgerHead', 'kms:ListCheckpoints', 'kms:GetAuditPublicKey',
]);

/** "Cross-account permissions are effective only for the following operations" (AWS KMS developer guide). */
export const CROSS_ACCOUNT_ACTIONS: ReadonlySet<string> = new Set([
  'kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:DeriveSharedSecret', 'kms:Encrypt',
  'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateMac', 'kms:GetPublicKey', 'kms:ListGrants',
  'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:RetireGrant', 'kms:RevokeGrant', 'kms:Sign', 'kms:Verify',
  'kms:VerifyMac',
]);

export interface KmsRequest extends PolicyRequest {
  /**
   * The request's encryption context, checked against grant constraints. For operations that take
   * one, an absent context is the empty context, so a constrained grant does not allow it.
   */
  readonly encryptionContext?: EncryptionContext;
  /** The account the caller acts in; defaults to the principal's. Service principals have none. */
  readonly callerAccount?: string;
}

export interface KmsAuthorizationInput {
  /** The key's policy; ignored for account-level actions. */
  readonly keyPolicy: CompiledPolicy | undefined;
  /** The identity policies attached to the caller (for a role session: those of its role). */
  readonly identityPolicies: readonly NamedPolicy[];
  readonly grants?: readonly Grant[];
  readonly request: KmsRequest;
  /** The account that owns the key; undefined for account-level actions. */
  readonly keyAccount: string | undefined;
}

const rule = (detail: string, applies = true): TraceLine => ({ source: 'rule', applies, detail });

/** No identity policies, nothing examined (most callers have none attached). */
const NO_OUTCOMES: readonly StatementOutcome[] = Object.freeze([]);

export function authorizeKmsRequest(input: KmsAuthorizationInput): Decision {
  const { request, keyAccount } = input;
  const prepared = prepareRequest(request);
  const { principal, action } = request;
  const identity =
    input.identityPolicies.length === 0 ? NO_OUTCOMES : input.identityPolicies.flatMap((policy) => examinePolicy(policy, prepared));
  const callerAccount = principal.kind === 'service' ? undefined : (request.callerAccount ?? principal.account);
  const isRoot = principal.kind === 'root';
  const identityDeny = firstApplying(identity, 'Deny');
  const identityAllow = firstApplying(identity, 'Allow');

  if (ACCOUNT_LEVEL_ACTIONS.has(action)) {
    const trace = () => [rule(`${action} is an account-level action: identity policies alone decide it`), ...identity.map((o) => o.line)];
    if (identityDeny) return deny(`Deny by ${identityDeny.label}`, trace);
    if (identityAllow) return allow(`Allow by ${identityAllow.label}`, trace);
    if (isRoot) return allow(`Allow: the account root of ${callerAccount} needs no identity policy in its own account`, trace);
    return deny(`no identity policy allows ${action}`, trace);
  }
  if (!input.keyPolicy) return deny('the key has no key policy', () => [rule('no key policy to evaluate')]);

  const key = examinePolicy({ name: 'key policy', policy: input.keyPolicy }, prepared);
  const grants = examineGrants(input.grants ?? [], prepared, request.encryptionContext);
  const trace = () => [...key.map((o) => o.line), ...identity.map((o) => o.line), ...grants.map((g) => g.line)];

  const keyDeny = firstApplying(key, 'Deny');
  if (keyDeny) return deny(`Deny by ${keyDeny.label}`, trace);
  if (identityDeny) return deny(`Deny by ${identityDeny.label}`, trace);

  const crossAccount = callerAccount !== undefined && callerAccount !== keyAccount;
  if (crossAccount && !CROSS_ACCOUNT_ACTIONS.has(action)) {
    return deny(`${action} cannot be used on a key in another account (${keyAccount})`, () => [
      ...trace(),
      rule(`caller account ${callerAccount} is not the key's account ${keyAccount}; ${action} is not a cross-account operation`),
    ]);
  }
  const identityReason = identityAllow ? identityAllow.label : isRoot ? `the account root of ${callerAccount}` : undefined;
  const keyDirect = firstApplying(key, 'Allow', 'direct');
  const keyDelegates = firstApplying(key, 'Allow', 'account');

  if (!crossAccount && keyDirect) return allow(keyDirect.allowReason, trace);
  if (!crossAccount && keyDelegates && identityReason) {
    return allow(`Allow by ${identityReason}, delegated by ${keyDelegates.label}`, trace);
  }
  const keyAllow = keyDirect ?? keyDelegates;
  if (crossAccount && keyAllow && identityReason) {
    return allow(`Allow by ${keyAllow.label} and ${identityReason} (caller account ${callerAccount})`, trace);
  }
  const grantDirect = grants.find((g) => g.line.applies && g.match === 'direct');
  if (grantDirect) return allow(`Allow by grant ${grantDirect.grant.grantId}`, trace);
  const grantDelegates = grants.find((g) => g.line.applies && g.match === 'account');
  if (grantDelegates && identityReason) {
    return allow(`Allow by grant ${grantDelegates.grant.grantId} to account ${callerAccount} and ${identityReason}`, trace);
  }
  return deny(denialReason(action, crossAccount, callerAccount, keyAllow, keyDelegates, identityAllow), trace);
}

function denialReason(
  action: string,
  crossAccount: boolean,
  callerAccount: string | undefined,
  keyAllow: StatementOutcome | undefined,
  keyDelegates: StatementOutcome | undefined,
  identityAllow: StatementOutcome | undefined,
): string {
  if (crossAccount && keyAllow) {
    return `${keyAllow.label} allows the caller, but no identity policy in account ${callerAccount} allows ${action}`;
  }
  if (crossAccount && identityAllow) {
    return `${identityAllow.label} allows, but the key policy allows neither the caller nor account ${callerAccount}`;
  }
  if (keyDelegates) return `${keyDelegates.label} delegates to account ${callerAccount}, but no identity policy allows ${action}`;
  if (identityAllow) {
    return `${identityAllow.label} allows, but the key policy neither allows the caller nor delegates to its account`;
  }
  return 'no statement allows';
}

/** The first outcome that applies with `effect` (and names the caller as `match`, when given). */
function firstApplying(
  outcomes: readonly StatementOutcome[],
  effect: 'Allow' | 'Deny',
  match?: StatementOutcome['match'],
): StatementOutcome | undefined {
  // A loop, not find() with an arrow: every request evaluates four of these.
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i]!;
    if (!outcome.applies || outcome.statement.effect !== effect) continue;
    if (match === undefined || outcome.match === match) return outcome;
  }
  return undefined;
}

const allow = (reason: string, trace: () => readonly TraceLine[]): Decision => decided('Allow', reason, trace);
const deny = (reason: string, trace: () => readonly TraceLine[]): Decision => decided('Deny', reason, trace);
