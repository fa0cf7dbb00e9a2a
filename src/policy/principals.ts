import { KmsError } from '../domain/errors.js';
import { isAccountId } from '../domain/ids.js';
import { parsePrincipal, type Principal } from '../domain/principal.js';
import { isObject } from './conditions.js';

/**
 * The Principal / NotPrincipal element (IAM JSON policy reference) as KMS key policies use it.
 * A caller is seen as layers of identity, as IAM evaluates it: the account, then the role, then the
 * role session (or the account, then the user; or the service alone).
 *
 * - An account entry (`111122223333`, `arn:aws:iam::111122223333:root`) matches the account layer
 *   only. For anyone but the account root that is a delegation: the account's identity policies
 *   decide (AWS KMS developer guide, "Allows access to the AWS account and enables IAM policies").
 * - A role entry matches the role and every session of it; a session entry matches that session.
 * - A user entry matches that user; a service entry that service; `*` everyone.
 */
export type PrincipalEntry =
  | { readonly type: 'any' }
  | { readonly type: 'account'; readonly account: string; readonly partition: string | undefined }
  | { readonly type: 'role'; readonly arn: string; readonly partition: string; readonly account: string; readonly name: string }
  | { readonly type: 'user' | 'session' | 'service'; readonly arn: string };

export interface PrincipalElement {
  readonly negated: boolean;
  readonly entries: readonly PrincipalEntry[];
}

/** `direct`: the caller itself is named. `account`: only its account is (a delegation). */
export type PrincipalMatch = 'direct' | 'account' | 'none';

const malformed = (message: string) => new KmsError('MalformedPolicyDocumentException', message);

export function compilePrincipal(raw: unknown, path: string, negated: boolean): PrincipalElement {
  if (raw === '*') return { negated, entries: [{ type: 'any' }] };
  if (!isObject(raw) || Object.keys(raw).length === 0) {
    throw malformed(`${path} must be "*" or an object with AWS or Service principals`);
  }
  const entries: PrincipalEntry[] = [];
  for (const [type, value] of Object.entries(raw)) {
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || !list.every((v): v is string => typeof v === 'string')) {
      throw malformed(`${path}.${type} must be a string or a non-empty list of strings`);
    }
    if (type === 'AWS') entries.push(...list.map((v, i) => awsEntry(v, `${path}.AWS${listIndex(value, i)}`)));
    else if (type === 'Service') entries.push(...list.map((v, i) => serviceEntry(v, `${path}.Service${listIndex(value, i)}`)));
    else throw malformed(`${path}.${type} is not supported: use AWS or Service principals`);
  }
  return { negated, entries };
}

const listIndex = (value: unknown, i: number) => (Array.isArray(value) ? `[${i}]` : '');

function awsEntry(value: string, where: string): PrincipalEntry {
  if (value === '*') return { type: 'any' };
  if (isAccountId(value)) return { type: 'account', account: value, partition: undefined };
  const principal = parsePrincipal(value);
  // AWS KMS: "Policy contains a statement with one or more invalid principals."
  if (!principal || principal.kind === 'service') {
    throw malformed(`${where} '${value}' is not a valid AWS principal (account id, root, role, user or assumed-role ARN)`);
  }
  const partition = value.split(':')[1]!;
  const account = principal.account!;
  switch (principal.kind) {
    case 'root':
      return { type: 'account', account, partition };
    case 'role':
      return { type: 'role', arn: value, partition, account, name: value.slice(value.lastIndexOf('/') + 1) };
    case 'user':
      return { type: 'user', arn: value };
    case 'assumed-role':
      return { type: 'session', arn: value };
  }
}

function serviceEntry(value: string, where: string): PrincipalEntry {
  if (parsePrincipal(value)?.kind !== 'service') {
    throw malformed(`${where} '${value}' is not a valid service principal (such as s3.amazonaws.com)`);
  }
  return { type: 'service', arn: value };
}

interface CallerLayers {
  readonly account?: { readonly account: string; readonly partition: string };
  readonly isRoot: boolean;
  /** For role callers and role sessions: the role's partition, account and name. */
  readonly role?: { readonly partition: string; readonly account: string; readonly name: string; readonly arn?: string };
  /** The caller's own ARN when it is a user, a session or a service. */
  readonly self?: { readonly type: 'user' | 'session' | 'service'; readonly arn: string };
}

/**
 * The caller's layers, worked out once per principal object: the pipeline hands every request of a
 * connection the same (immutable) Principal, so a WeakMap turns the ARN splitting into one lookup.
 */
const layersOf = new WeakMap<Principal, CallerLayers>();

export function callerLayers(principal: Principal): CallerLayers {
  let layers = layersOf.get(principal);
  if (layers === undefined) {
    layers = computeCallerLayers(principal);
    layersOf.set(principal, layers);
  }
  return layers;
}

function computeCallerLayers(principal: Principal): CallerLayers {
  if (principal.kind === 'service') return { isRoot: false, self: { type: 'service', arn: principal.arn } };
  const parts = principal.arn.split(':');
  const account = { account: principal.account ?? '', partition: parts[1] ?? '' };
  const resource = parts.slice(5).join(':');
  switch (principal.kind) {
    case 'root':
      return { account, isRoot: true };
    case 'user':
      return { account, isRoot: false, self: { type: 'user', arn: principal.arn } };
    case 'role':
      return { account, isRoot: false, role: { ...account, name: resource.slice(resource.lastIndexOf('/') + 1), arn: principal.arn } };
    case 'assumed-role':
      return {
        account,
        isRoot: false,
        role: { ...account, name: resource.split('/')[1] ?? '' },
        self: { type: 'session', arn: principal.arn },
      };
  }
}

function matchesAccount(entry: PrincipalEntry, layers: CallerLayers): boolean {
  return (
    entry.type === 'account' &&
    layers.account !== undefined &&
    entry.account === layers.account.account &&
    (entry.partition === undefined || entry.partition === layers.account.partition)
  );
}

function matchesRole(entry: PrincipalEntry, layers: CallerLayers): boolean {
  if (entry.type !== 'role' || !layers.role) return false;
  const role = layers.role;
  // A role caller is matched by its exact ARN (path included); a session knows only the role name.
  if (role.arn !== undefined) return entry.arn === role.arn;
  return entry.partition === role.partition && entry.account === role.account && entry.name === role.name;
}

function matchesSelf(entry: PrincipalEntry, layers: CallerLayers): boolean {
  return layers.self !== undefined && entry.type === layers.self.type && 'arn' in entry && entry.arn === layers.self.arn;
}

/** How a Principal element names the caller. */
export function matchPrincipal(element: PrincipalElement, layers: CallerLayers): PrincipalMatch {
  let match: PrincipalMatch = 'none';
  for (const entry of element.entries) {
    if (entry.type === 'any' || matchesRole(entry, layers) || matchesSelf(entry, layers)) return 'direct';
    if (matchesAccount(entry, layers)) match = layers.isRoot ? 'direct' : 'account';
  }
  return match;
}

/**
 * NotPrincipal (IAM: "AWS might verify the account first, then the role, then the assumed-role
 * user"): the statement applies unless every layer of the caller is excluded — its account, its
 * role (a role entry also excludes the role's sessions) and itself. Excluding a session without its
 * role and account therefore still denies it, as AWS documents.
 */
export function notPrincipalApplies(element: PrincipalElement, layers: CallerLayers): boolean {
  const listed = (test: (entry: PrincipalEntry) => boolean) =>
    element.entries.some((entry) => entry.type === 'any' || test(entry));
  if (layers.account && !listed((e) => matchesAccount(e, layers))) return true;
  if (layers.role && !listed((e) => matchesRole(e, layers))) return true;
  if (layers.self && !listed((e) => matchesSelf(e, layers) || (layers.self!.type === 'session' && matchesRole(e, layers)))) {
    return true;
  }
  return false;
}
