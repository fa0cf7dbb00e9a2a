import type { Principal } from '../domain/principal.js';

/**
 * The request context: condition keys and their values, as the caller builds them for one request
 * (`kms:EncryptionContext:<k>`, `kms:EncryptionContextKeys`, `aws:SourceIp`, `aws:CurrentTime` …).
 * An array is a multivalued key (`kms:EncryptionContextKeys`, `kms:ResourceAliases`,
 * `kms:GrantOperations`, `aws:TagKeys`); `undefined` or an empty array means the key is absent.
 */
export type ContextValue = string | readonly string[] | boolean | number | undefined;
export type RequestContextInput = Readonly<Record<string, ContextValue>>;

/**
 * The context as conditions read it: every value a list of strings, every key lower-cased,
 * because IAM condition key names are case-insensitive while their values are not. Built once per
 * request and shared by every policy the request is evaluated against.
 */
export type RequestContext = ReadonlyMap<string, readonly string[]>;

export function normalizeContext(input: RequestContextInput | undefined): RequestContext {
  const context = new Map<string, string[]>();
  for (const [name, value] of Object.entries(input ?? {})) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? [...(value as readonly string[])] : [String(value)];
    const key = name.toLowerCase();
    // Two keys that differ only by case (kms:EncryptionContext:Dept and …:dept) are one condition
    // key to IAM; keep both values, so an Allow needs one to match and a negated Deny sees both.
    context.set(key, [...(context.get(key) ?? []), ...values]);
  }
  return context;
}

/**
 * The principal's own condition keys, for the caller to merge into the request context.
 * `aws:PrincipalArn` of a role session is the role's ARN, not the session's (IAM global condition
 * keys); the session ARN does not carry the role's path, so a role with a path is named without it.
 */
export function principalConditionKeys(principal: Principal): Readonly<Record<string, string>> {
  let keys = conditionKeysOf.get(principal);
  if (keys === undefined) {
    keys = Object.freeze(computePrincipalConditionKeys(principal));
    conditionKeysOf.set(principal, keys);
  }
  return keys;
}

/** Once per principal object (see callerLayers in principals.ts for why that is once per caller). */
const conditionKeysOf = new WeakMap<Principal, Readonly<Record<string, string>>>();

function computePrincipalConditionKeys(principal: Principal): Record<string, string> {
  const keys: Record<string, string> = {};
  if (principal.kind === 'service') return keys;
  keys['aws:PrincipalArn'] = principal.kind === 'assumed-role' ? roleArnOfSession(principal.arn) : principal.arn;
  if (principal.account !== undefined) {
    keys['aws:PrincipalAccount'] = principal.account;
    keys['kms:CallerAccount'] = principal.account;
  }
  return keys;
}

/** arn:aws:sts::111122223333:assumed-role/Role/session → arn:aws:iam::111122223333:role/Role */
export function roleArnOfSession(sessionArn: string): string {
  const parts = sessionArn.split(':');
  const resource = parts.slice(5).join(':');
  const roleName = resource.split('/')[1] ?? '';
  return `arn:${parts[1]}:iam::${parts[4]}:role/${roleName}`;
}
