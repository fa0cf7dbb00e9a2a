import { parsePrincipal, type Principal } from '../../../src/domain/principal.js';
import { parsePolicy, type CompiledPolicy } from '../../../src/policy/document.js';
import type { NamedPolicy } from '../../../src/policy/evaluate.js';

/** The key's account, an external account, and one key in each. */
export const A = '111122223333';
export const B = '444455556666';
export const KEY_ARN = `arn:aws:kms:us-east-1:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
export const OTHER_KEY_ARN = `arn:aws:kms:us-east-1:${A}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;

export function principal(value: string): Principal {
  const parsed = parsePrincipal(value);
  if (!parsed) throw new Error(`test principal '${value}' does not parse`);
  return parsed;
}

/** Callers used across the suite. */
export const P = {
  rootA: principal(`arn:aws:iam::${A}:root`),
  rootB: principal(`arn:aws:iam::${B}:root`),
  devRole: principal(`arn:aws:iam::${A}:role/DeveloperRole`),
  devSession: principal(`arn:aws:sts::${A}:assumed-role/DeveloperRole/alice`),
  otherSession: principal(`arn:aws:sts::${A}:assumed-role/OtherRole/bob`),
  alice: principal(`arn:aws:iam::${A}:user/alice`),
  bob: principal(`arn:aws:iam::${A}:user/bob`),
  ssoUser1: principal(`arn:aws:sts::${A}:assumed-role/SSO_ROLE/user1`),
  ssoUser2: principal(`arn:aws:sts::${A}:assumed-role/SSO_ROLE/user2`),
  ssoUser3: principal(`arn:aws:sts::${A}:assumed-role/SSO_ROLE/user3`),
  ssoRole: principal(`arn:aws:iam::${A}:role/SSO_ROLE`),
  extRole: principal(`arn:aws:iam::${B}:role/Partner`),
  extSession: principal(`arn:aws:sts::${B}:assumed-role/Partner/carol`),
  extDevSession: principal(`arn:aws:sts::${B}:assumed-role/DeveloperRole/alice`),
  s3: principal('s3.amazonaws.com'),
  dynamodb: principal('dynamodb.amazonaws.com'),
} as const;

export type Statement = Record<string, unknown>;

export function keyPolicy(...statements: Statement[]): CompiledPolicy {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), { kind: 'key' });
}

export function identityPolicy(name: string, ...statements: Statement[]): NamedPolicy {
  return { name, policy: parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), { kind: 'identity' }) };
}

export const allow = (principalElement: unknown, action: unknown, extra: Statement = {}): Statement => ({
  Effect: 'Allow',
  Principal: principalElement,
  Action: action,
  Resource: '*',
  ...extra,
});

export const deny = (principalElement: unknown, action: unknown, extra: Statement = {}): Statement => ({
  Effect: 'Deny',
  Principal: principalElement,
  Action: action,
  Resource: '*',
  ...extra,
});

/** An identity statement (no Principal). */
export const grantsAction = (action: unknown, resource: unknown = '*', extra: Statement = {}): Statement => ({
  Effect: 'Allow',
  Action: action,
  Resource: resource,
  ...extra,
});

export const ROOT_A = { AWS: `arn:aws:iam::${A}:root` };
export const ROOT_B = { AWS: `arn:aws:iam::${B}:root` };

/** The AWS default key policy's one statement, for the key account. */
export const DEFAULT_STATEMENTS = [allow(ROOT_A, 'kms:*', { Sid: 'Enable IAM User Permissions' })];
export const DEV_ROLE = { AWS: `arn:aws:iam::${A}:role/DeveloperRole` };
