import { describe, expect, it } from 'vitest';
import { KmsError } from '../../../src/domain/errors.js';
import type { Principal } from '../../../src/domain/principal.js';
import type { RequestContextInput } from '../../../src/policy/context.js';
import { defaultKeyPolicy, defaultKeyPolicyText } from '../../../src/policy/default-policy.js';
import type { CompiledPolicy } from '../../../src/policy/document.js';
import type { NamedPolicy } from '../../../src/policy/evaluate.js';
import { authorizeKmsRequest } from '../../../src/policy/kms-authorization.js';
import { checkPolicyLockout, LOCKOUT_MESSAGE } from '../../../src/policy/lockout.js';
import { A, B, DEV_ROLE, KEY_ARN, P, allow, deny, grantsAction, identityPolicy, keyPolicy } from './fixtures.js';

describe('the default key policy', () => {
  it('is the AWS default: the account root gets kms:*', () => {
    expect(JSON.parse(defaultKeyPolicyText(A))).toEqual({
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' }],
    });
  });

  it('names the partition it is given', () => {
    expect(defaultKeyPolicyText(A, 'aws-us-gov')).toContain(`"AWS" : "arn:aws-us-gov:iam::${A}:root"`);
  });

  it.each([
    ['lets the root do anything', P.rootA, [], 'kms:ScheduleKeyDeletion', 'Allow'],
    ['delegates to identity policies: allowed with one', P.alice, [identityPolicy('Kms', grantsAction('kms:Decrypt'))], 'kms:Decrypt', 'Allow'],
    ['delegates to identity policies: denied without one', P.alice, [], 'kms:Decrypt', 'Deny'],
    ['does not let another account in', P.rootB, [], 'kms:Decrypt', 'Deny'],
  ] as const)('%s', (_label, caller, identity, action, expected) => {
    const result = authorizeKmsRequest({ keyPolicy: defaultKeyPolicy(A), identityPolicies: identity, request: { principal: caller, action, resource: KEY_ARN }, keyAccount: A });
    expect(result.decision).toBe(expected);
  });
});

type Row = [label: string, policy: CompiledPolicy, caller: Principal, identity: NamedPolicy[], context: RequestContextInput, safe: boolean];
const ADMIN_ALL = [identityPolicy('Admin', grantsAction('kms:*'))];
const ROLE_ONLY_ENCRYPT = keyPolicy(allow(DEV_ROLE, 'kms:Encrypt'));
const ROWS: Row[] = [
  ['the default policy is safe for the root', defaultKeyPolicy(A), P.rootA, [], {}, true],
  ['the default policy is safe for a role whose identity policy allows PutKeyPolicy', defaultKeyPolicy(A), P.devSession, ADMIN_ALL, {}, true],
  ['the default policy locks out a role with no identity policy', defaultKeyPolicy(A), P.devSession, [], {}, false],
  ['a policy naming the caller role with kms:PutKeyPolicy is safe', keyPolicy(allow(DEV_ROLE, ['kms:PutKeyPolicy', 'kms:Encrypt'])), P.devSession, [], {}, true],
  ['a policy giving the caller only Encrypt locks it out', ROLE_ONLY_ENCRYPT, P.devSession, ADMIN_ALL, {}, false],
  ['a policy giving a role everything locks out the root', keyPolicy(allow(DEV_ROLE, 'kms:*')), P.rootA, [], {}, false],
  ['a Deny of PutKeyPolicy to everyone locks out even the root', keyPolicy(allow({ AWS: A }, 'kms:*'), deny('*', 'kms:PutKeyPolicy')), P.rootA, [], {}, false],
  ['an identity Deny of PutKeyPolicy locks the caller out', defaultKeyPolicy(A), P.devSession, [identityPolicy('Admin', grantsAction('kms:*'), { ...grantsAction('kms:PutKeyPolicy'), Effect: 'Deny' })], {}, false],
  ['a condition the current request meets keeps it safe', keyPolicy(allow(DEV_ROLE, 'kms:*', { Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })), P.devSession, [], { 'aws:SourceIp': '10.0.0.7' }, true],
  ['a condition the current request fails locks it out', keyPolicy(allow(DEV_ROLE, 'kms:*', { Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })), P.devSession, [], { 'aws:SourceIp': '192.0.2.7' }, false],
  ['NotPrincipal Deny sparing the admin role and its account is safe for it', keyPolicy(allow({ AWS: A }, 'kms:*'), { Effect: 'Deny', NotPrincipal: { AWS: [A, DEV_ROLE.AWS] }, Action: 'kms:PutKeyPolicy', Resource: '*' }), P.devSession, ADMIN_ALL, {}, true],
  ['a policy for another account alone locks out the key account root', keyPolicy(allow({ AWS: B }, 'kms:*')), P.rootA, [], {}, false],
];

describe('the policy lockout safety check (PutKeyPolicy, CreateKey)', () => {
  it.each(ROWS)('%s', (_label, newPolicy, caller, identityPolicies, context, safe) => {
    const check = () =>
      checkPolicyLockout({ newPolicy, request: { principal: caller, context }, keyArn: KEY_ARN, keyAccount: A, identityPolicies, bypassPolicyLockoutSafetyCheck: false });
    if (safe) {
      expect(check()?.decision).toBe('Allow');
    } else {
      expect(check).toThrowError(new KmsError('MalformedPolicyDocumentException', LOCKOUT_MESSAGE));
      try {
        check();
      } catch (error) {
        expect((error as KmsError).name).toBe('MalformedPolicyDocumentException');
      }
    }
  });

  it('BypassPolicyLockoutSafetyCheck skips the check', () => {
    const result = checkPolicyLockout({ newPolicy: ROLE_ONLY_ENCRYPT, request: { principal: P.rootA }, keyArn: KEY_ARN, keyAccount: A, identityPolicies: [], bypassPolicyLockoutSafetyCheck: true });
    expect(result).toBeUndefined();
  });
});
