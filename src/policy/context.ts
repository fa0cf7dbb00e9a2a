import type { Principal } from '../domain/principal.js';
import { lowerCased } from './wildcard.js';

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
 * because IAM condition key names are case-insensitive while their values are not. Shared by
 * every policy the request is evaluated against.
 */
export interface RequestContext {
  /** The values of a condition key, by its lower-cased name; undefined when the request has none. */
  get(lowerCaseKey: string): readonly string[] | undefined;
}

/**
 * Normalises on demand: a request carries a dozen or more keys and its policies' conditions ask
 * for one or two, so only those are looked up (building the whole normalised map was a tenth of
 * the per-request allocations in the bench profile).
 */
export function normalizeContext(input: RequestContextInput | undefined, over?: RequestContextInput): RequestContext {
  return new LazyContext(input ?? {}, over);
}

class LazyContext implements RequestContext {
  #found: Map<string, readonly string[] | undefined> | undefined;

  /**
   * `over` is a second layer (the condition keys of the key a request is on) read as if
   * Object.assign({}, input, over) had merged the two, without the copy: a name in both has
   * over's value at input's place in the order, and over's other names follow input's.
   */
  constructor(
    private readonly input: RequestContextInput,
    private readonly over: RequestContextInput | undefined,
  ) {}

  get(lowerCaseKey: string): readonly string[] | undefined {
    const found = (this.#found ??= new Map());
    if (found.has(lowerCaseKey)) return found.get(lowerCaseKey);
    // Two keys that differ only by case (kms:EncryptionContext:Dept and …:dept) are one condition
    // key to IAM; keep both values, so an Allow needs one to match and a negated Deny sees both.
    let values: string[] | undefined;
    const { input, over } = this;
    // for…in reads V8's cached key list of the object's shape; Object.keys copied it on every
    // lookup. The inputs are plain literals built by the pipeline: they inherit no enumerable keys.
    for (const name in input) {
      if (lowerCased(name) !== lowerCaseKey) continue;
      values = collect(values, over !== undefined && Object.hasOwn(over, name) ? over[name] : input[name]);
    }
    if (over !== undefined) {
      for (const name in over) {
        if (lowerCased(name) !== lowerCaseKey || Object.hasOwn(input, name)) continue;
        values = collect(values, over[name]);
      }
    }
    found.set(lowerCaseKey, values);
    return values;
  }
}

function collect(values: string[] | undefined, value: ContextValue): string[] | undefined {
  if (value === undefined) return values;
  values ??= [];
  if (Array.isArray(value)) values.push(...(value as readonly string[]));
  else values.push(String(value));
  return values;
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
