import type { EncryptionContext } from '../domain/encryption-context.js';
import { parsePrincipal } from '../domain/principal.js';
import type { PreparedRequest, TraceLine } from './evaluate.js';
import { callerLayers, matchPrincipal, type PrincipalEntry, type PrincipalMatch } from './principals.js';

/**
 * A grant (AWS KMS developer guide, "Grants in AWS KMS"): it allows its grantee to call the listed
 * operations on one key, provided its constraints match. "A grant can allow access to a KMS key,
 * but not deny access." Storing, creating, retiring and revoking grants is the store's and the
 * grant operations' work; this module only decides whether a grant allows a request.
 */
export const GRANT_OPERATIONS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'Sign', 'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

export interface GrantConstraints {
  readonly encryptionContextEquals?: EncryptionContext;
  readonly encryptionContextSubset?: EncryptionContext;
}

export interface Grant {
  readonly grantId: string;
  /** A role, user, assumed-role session, account root (a delegation, as in a key policy) or service. */
  readonly granteePrincipal: string;
  readonly operations: readonly string[];
  readonly constraints?: GrantConstraints;
}

/**
 * GrantConstraints (AWS KMS API reference): "applied only to cryptographic operations that support
 * an encryption context … not applied to operations that do not, such as DescribeKey or RetireGrant".
 */
const CONTEXT_OPERATIONS: ReadonlySet<string> = new Set([
  'Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
]);

export interface GrantOutcome {
  readonly grant: Grant;
  readonly match: PrincipalMatch;
  readonly line: TraceLine;
}

const NO_GRANT_OUTCOMES: readonly GrantOutcome[] = Object.freeze([]);

/**
 * Which grants allow the request. `match` is `direct` when the grant names the caller (or its role)
 * and `account` when it names only the caller's account root, which, as in a key policy, delegates
 * to the account's identity policies.
 */
export function examineGrants(
  grants: readonly Grant[],
  request: PreparedRequest,
  encryptionContext: EncryptionContext | undefined,
): readonly GrantOutcome[] {
  // Most keys have no grants: nothing to examine, and nothing to make for it.
  if (grants.length === 0) return NO_GRANT_OUTCOMES;
  const operation = request.action.startsWith('kms:') ? request.action.slice(4) : request.action;
  return grants.map((grant) => {
    const source = `grant ${grant.grantId}`;
    const skip = (detail: string): GrantOutcome => ({ grant, match: 'none', line: { source, effect: 'Allow', applies: false, detail } });
    const entry = granteeEntry(grant.granteePrincipal);
    const match = entry ? matchPrincipal({ negated: false, entries: [entry] }, callerLayers(request.principal)) : 'none';
    if (match === 'none') return skip(`grantee ${grant.granteePrincipal} is not the caller`);
    if (!grant.operations.includes(operation)) return skip(`${operation} is not among its operations`);
    if (CONTEXT_OPERATIONS.has(operation)) {
      const failed = unmetConstraint(grant.constraints, encryptionContext ?? {});
      if (failed) return skip(failed);
    }
    const detail =
      match === 'account' ? `applies through account ${request.principal.account}: delegates to its identity policies` : 'applies';
    return { grant, match, line: { source, effect: 'Allow', applies: true, detail } };
  });
}

function granteeEntry(grantee: string): PrincipalEntry | undefined {
  const principal = parsePrincipal(grantee);
  if (!principal) return undefined;
  switch (principal.kind) {
    case 'root':
      return { type: 'account', account: principal.account!, partition: grantee.split(':')[1] };
    case 'role': {
      const [, partition = ''] = grantee.split(':');
      return { type: 'role', arn: grantee, partition, account: principal.account!, name: grantee.slice(grantee.lastIndexOf('/') + 1) };
    }
    case 'user':
      return { type: 'user', arn: grantee };
    case 'assumed-role':
      return { type: 'session', arn: grantee };
    case 'service':
      return { type: 'service', arn: grantee };
  }
}

/**
 * "In a grant constraint, the key in each key-value pair is not case sensitive, but the value is
 * case sensitive" (GrantConstraints). Equals: the request's context has exactly these pairs.
 * Subset: it has at least these pairs.
 */
function unmetConstraint(constraints: GrantConstraints | undefined, context: EncryptionContext): string | undefined {
  if (!constraints) return undefined;
  const requested = new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v] as const));
  const includes = (pairs: EncryptionContext) => Object.entries(pairs).every(([k, v]) => requested.get(k.toLowerCase()) === v);
  const { encryptionContextEquals: equals, encryptionContextSubset: subset } = constraints;
  if (equals && !(includes(equals) && requested.size === new Set(Object.keys(equals).map((k) => k.toLowerCase())).size)) {
    return 'the encryption context does not equal its EncryptionContextEquals constraint';
  }
  if (subset && !includes(subset)) return 'the encryption context does not include its EncryptionContextSubset constraint';
  return undefined;
}
