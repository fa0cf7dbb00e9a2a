import { describe, expect, it } from 'vitest';
import type { Grant } from '../../../src/policy/grants.js';
import { authorizeKmsRequest } from '../../../src/policy/kms-authorization.js';
import { A, B, DEFAULT_STATEMENTS, DEV_ROLE, KEY_ARN, OTHER_KEY_ARN, P, ROOT_A, ROOT_B, allow, deny, grantsAction } from './fixtures.js';
import { decide, runScenarios } from './scenarios.js';

const DEFAULT = DEFAULT_STATEMENTS;
const DEV = DEV_ROLE;
const PARTNER = { AWS: `arn:aws:iam::${B}:role/Partner` };
const ENCRYPT_ANY = [grantsAction('kms:Encrypt')];

runScenarios('same account: the key policy allows directly, or delegates to the account', [
  { label: 'key policy naming the role allows a session of it with no identity policy', key: [allow(DEV, 'kms:Encrypt')], caller: P.devSession, action: 'kms:Encrypt', expected: 'Allow', reason: /^Allow by key policy statement #0$/ },
  { label: 'default policy alone does not let a role use the key', key: DEFAULT, caller: P.devSession, action: 'kms:Encrypt', expected: 'Deny', reason: /'Enable IAM User Permissions' \(#0\) delegates to account 111122223333, but no identity policy allows kms:Encrypt/ },
  { label: 'default policy plus an identity policy allows', key: DEFAULT, identity: ENCRYPT_ANY, caller: P.devSession, action: 'kms:Encrypt', expected: 'Allow', reason: /^Allow by identity policy 'CallerPolicy' statement #0, delegated by key policy statement 'Enable IAM User Permissions' \(#0\)$/ },
  { label: 'identity policy for another action does not allow', key: DEFAULT, identity: [grantsAction('kms:Decrypt')], caller: P.devSession, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'identity policy for another key does not allow', key: DEFAULT, identity: [grantsAction('kms:Encrypt', OTHER_KEY_ARN)], caller: P.devSession, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'identity policy for all keys of the account allows', key: DEFAULT, identity: [grantsAction('kms:Encrypt', `arn:aws:kms:*:${A}:key/*`)], caller: P.alice, action: 'kms:Encrypt', expected: 'Allow' },
  { label: 'the account root is allowed by the default policy directly', key: DEFAULT, caller: P.rootA, action: 'kms:PutKeyPolicy', expected: 'Allow', reason: /^Allow by key policy statement 'Enable IAM User Permissions' \(#0\)$/ },
  { label: 'the root is locked out when the key policy names only a role', key: [allow(DEV, 'kms:*')], caller: P.rootA, action: 'kms:PutKeyPolicy', expected: 'Deny', reason: /no statement allows/ },
  { label: 'an account-id principal delegates exactly like the root ARN', key: [allow({ AWS: A }, 'kms:*')], identity: ENCRYPT_ANY, caller: P.alice, action: 'kms:Encrypt', expected: 'Allow' },
  { label: 'an identity Deny beats a direct key policy Allow', key: [allow(DEV, 'kms:*')], identity: [{ ...grantsAction('kms:Encrypt'), Effect: 'Deny' }], caller: P.devSession, action: 'kms:Encrypt', expected: 'Deny', reason: /^Deny by identity policy 'CallerPolicy' statement #0$/ },
  { label: 'a key policy Deny beats a key policy Allow', key: [allow(DEV, 'kms:*'), { ...deny(DEV, 'kms:Decrypt'), Sid: 'NoDecrypt' }], caller: P.devSession, action: 'kms:Decrypt', expected: 'Deny', reason: /^Deny by key policy statement 'NoDecrypt' \(#1\)$/ },
  { label: 'a key policy Deny beats an identity Allow under delegation', key: [...DEFAULT, deny('*', 'kms:Encrypt')], identity: ENCRYPT_ANY, caller: P.alice, action: 'kms:Encrypt', expected: 'Deny', reason: /#1/ },
  { label: 'a key policy Deny on the account denies every principal of it', key: [allow(DEV, 'kms:*'), deny(ROOT_A, 'kms:Decrypt')], caller: P.devSession, action: 'kms:Decrypt', expected: 'Deny' },
  { label: 'an identity Allow without any key policy permission does not allow', key: [allow(DEV, 'kms:*')], identity: ENCRYPT_ANY, caller: P.alice, action: 'kms:Encrypt', expected: 'Deny', reason: /allows, but the key policy neither allows the caller nor delegates to its account/ },
  { label: 'Principal * allows a principal of the account directly', key: [allow('*', 'kms:Encrypt')], caller: P.bob, action: 'kms:Encrypt', expected: 'Allow' },
  { label: 'Principal * with kms:CallerAccount limited to the account', key: [allow('*', 'kms:Encrypt', { Condition: { StringEquals: { 'kms:CallerAccount': A } } })], caller: P.bob, action: 'kms:Encrypt', context: { 'kms:CallerAccount': A }, expected: 'Allow' },
  { label: 'a service principal named in the key policy is allowed', key: [allow({ Service: 's3.amazonaws.com' }, 'kms:Encrypt')], caller: P.s3, action: 'kms:Encrypt', expected: 'Allow' },
  { label: 'a service principal not named is denied', key: [allow({ Service: 's3.amazonaws.com' }, 'kms:Encrypt')], caller: P.dynamodb, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'a service principal is never delegated to by an account statement', key: DEFAULT, identity: ENCRYPT_ANY, caller: P.s3, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'a service principal with a default account is still not cross-account', key: [allow({ Service: 's3.amazonaws.com' }, 'kms:PutKeyPolicy')], caller: P.s3, callerAccount: B, action: 'kms:PutKeyPolicy', expected: 'Allow' },
  { label: 'a Deny in one identity policy beats an Allow in the same set', key: DEFAULT, identity: [grantsAction('kms:*'), { ...grantsAction('kms:Encrypt'), Effect: 'Deny' }], caller: P.alice, action: 'kms:Encrypt', expected: 'Deny', reason: /statement #1/ },
  { label: 'NotPrincipal Deny spares the listed admin role and its account', key: [allow('*', 'kms:*'), { Effect: 'Deny', NotPrincipal: { AWS: [A, DEV.AWS] }, Action: 'kms:PutKeyPolicy', Resource: '*' }], caller: P.devSession, action: 'kms:PutKeyPolicy', expected: 'Allow' },
  { label: 'NotPrincipal Deny denies everyone else', key: [allow('*', 'kms:*'), { Effect: 'Deny', NotPrincipal: { AWS: [A, DEV.AWS] }, Action: 'kms:PutKeyPolicy', Resource: '*' }], caller: P.otherSession, action: 'kms:PutKeyPolicy', expected: 'Deny' },
  { label: 'NotAction in a key policy Deny', key: [allow(DEV, 'kms:*'), { Effect: 'Deny', Principal: DEV, NotAction: ['kms:Encrypt', 'kms:Decrypt'], Resource: '*' }], caller: P.devSession, action: 'kms:ScheduleKeyDeletion', expected: 'Deny' },
  { label: 'NotResource in an identity Allow excludes this key', key: DEFAULT, identity: [{ Effect: 'Allow', Action: 'kms:*', NotResource: KEY_ARN }], caller: P.alice, action: 'kms:Encrypt', expected: 'Deny' },
]);

runScenarios('another account: the key policy and the caller identity policy must both allow', [
  { label: 'key policy names the external account and the identity policy allows', key: [...DEFAULT, allow(ROOT_B, 'kms:Encrypt')], identity: ENCRYPT_ANY, caller: P.extSession, action: 'kms:Encrypt', expected: 'Allow', reason: /key policy statement #1 and identity policy 'CallerPolicy' statement #0 \(caller account 444455556666\)/ },
  { label: 'key policy names the external account but no identity policy allows', key: [...DEFAULT, allow(ROOT_B, 'kms:Encrypt')], caller: P.extSession, action: 'kms:Encrypt', expected: 'Deny', reason: /no identity policy in account 444455556666 allows kms:Encrypt/ },
  { label: 'key policy names the external role and the identity policy allows', key: [allow(PARTNER, 'kms:Decrypt')], identity: [grantsAction('kms:Decrypt', KEY_ARN)], caller: P.extSession, action: 'kms:Decrypt', expected: 'Allow' },
  { label: 'key policy names the external role but the identity policy is missing', key: [allow(PARTNER, 'kms:Decrypt')], caller: P.extSession, action: 'kms:Decrypt', expected: 'Deny' },
  { label: 'identity policy alone does not open another account key', key: DEFAULT, identity: ENCRYPT_ANY, caller: P.extSession, action: 'kms:Encrypt', expected: 'Deny', reason: /the key policy allows neither the caller nor account 444455556666/ },
  { label: 'the external account root needs no identity policy', key: [...DEFAULT, allow(ROOT_B, 'kms:DescribeKey')], caller: P.rootB, action: 'kms:DescribeKey', expected: 'Allow', reason: /the account root of 444455556666/ },
  { label: 'Principal * still needs the external identity policy', key: [allow('*', 'kms:Encrypt')], caller: P.extSession, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'Principal * with the external identity policy allows', key: [allow('*', 'kms:Encrypt')], identity: ENCRYPT_ANY, caller: P.extSession, action: 'kms:Encrypt', expected: 'Allow' },
  { label: 'Principal * limited by kms:CallerAccount denies another account', key: [allow('*', 'kms:Encrypt', { Condition: { StringEquals: { 'kms:CallerAccount': A } } })], identity: ENCRYPT_ANY, caller: P.extSession, action: 'kms:Encrypt', context: { 'kms:CallerAccount': B }, expected: 'Deny' },
  { label: 'PutKeyPolicy is never allowed across accounts', key: [allow(ROOT_B, 'kms:*')], identity: [grantsAction('kms:*')], caller: P.extSession, action: 'kms:PutKeyPolicy', expected: 'Deny', reason: /kms:PutKeyPolicy cannot be used on a key in another account \(111122223333\)/ },
  { label: 'ScheduleKeyDeletion is never allowed across accounts', key: [allow(ROOT_B, 'kms:*')], identity: [grantsAction('kms:*')], caller: P.extSession, action: 'kms:ScheduleKeyDeletion', expected: 'Deny' },
  { label: 'DescribeKey is allowed across accounts', key: [allow(ROOT_B, 'kms:*')], identity: [grantsAction('kms:*')], caller: P.extSession, action: 'kms:DescribeKey', expected: 'Allow' },
  { label: 'ReEncryptTo is allowed across accounts', key: [allow(ROOT_B, 'kms:ReEncrypt*')], identity: [grantsAction('kms:ReEncrypt*')], caller: P.extSession, action: 'kms:ReEncryptTo', expected: 'Allow' },
  { label: 'a key policy Deny of the external account beats both Allows', key: [allow(ROOT_B, 'kms:*'), deny(ROOT_B, 'kms:Decrypt')], identity: [grantsAction('kms:*')], caller: P.extSession, action: 'kms:Decrypt', expected: 'Deny' },
  { label: 'the key account root statement does not let another account in', key: DEFAULT, identity: [grantsAction('kms:*')], caller: P.rootB, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'a same-named role in another account is not the named role', key: [allow(DEV, 'kms:Encrypt')], identity: ENCRYPT_ANY, caller: P.extDevSession, action: 'kms:Encrypt', expected: 'Deny' },
]);

runScenarios('account-level actions: identity policies alone decide', [
  { label: 'CreateKey with an identity policy allowing it', key: [deny('*', 'kms:*')], identity: [grantsAction('kms:CreateKey')], caller: P.devSession, action: 'kms:CreateKey', expected: 'Allow', reason: /^Allow by identity policy 'CallerPolicy' statement #0$/ },
  { label: 'CreateKey without an identity policy', key: DEFAULT, caller: P.devSession, action: 'kms:CreateKey', expected: 'Deny', reason: /^no identity policy allows kms:CreateKey$/ },
  { label: 'CreateKey with an identity Deny', key: DEFAULT, identity: [grantsAction('kms:*'), { ...grantsAction('kms:CreateKey'), Effect: 'Deny' }], caller: P.devSession, action: 'kms:CreateKey', expected: 'Deny' },
  { label: 'CreateKey by the account root needs no identity policy', key: [deny('*', 'kms:*')], caller: P.rootA, action: 'kms:CreateKey', expected: 'Allow', reason: /account root of 111122223333/ },
  { label: 'CreateKey is not allowed by an identity policy scoped to key ARNs', key: DEFAULT, identity: [grantsAction('kms:*', `arn:aws:kms:*:${A}:key/*`)], caller: P.alice, action: 'kms:CreateKey', expected: 'Deny' },
  { label: 'ListKeys with an identity policy', key: DEFAULT, identity: [grantsAction('kms:List*')], caller: P.alice, action: 'kms:ListKeys', expected: 'Allow' },
  { label: 'ListAliases with an identity policy', key: DEFAULT, identity: [grantsAction('kms:ListAliases')], caller: P.alice, action: 'kms:ListAliases', expected: 'Allow' },
  { label: 'GenerateRandom with an identity policy', key: DEFAULT, identity: [grantsAction('kms:GenerateRandom')], caller: P.alice, action: 'kms:GenerateRandom', expected: 'Allow' },
  { label: 'GenerateRandom without one', key: [allow('*', 'kms:*')], caller: P.alice, action: 'kms:GenerateRandom', expected: 'Deny' },
  { label: 'ListRetirableGrants with an identity policy', key: DEFAULT, identity: [grantsAction('kms:ListRetirableGrants')], caller: P.alice, action: 'kms:ListRetirableGrants', expected: 'Allow' },
  { label: 'a service principal has no identity policy for CreateKey', key: DEFAULT, caller: P.s3, action: 'kms:CreateKey', expected: 'Deny' },
]);

describe('a decision without a key policy', () => {
  it('denies a key action and says why', () => {
    const result = authorizeKmsRequest({ keyPolicy: undefined, identityPolicies: [], request: { principal: P.rootA, action: 'kms:Encrypt', resource: KEY_ARN }, keyAccount: A });
    expect(result).toMatchObject({ decision: 'Deny', reason: 'the key has no key policy' });
  });

  it('traces key policy statements, identity statements and grants, in that order', () => {
    const grant: Grant = { grantId: 'g-1', granteePrincipal: P.alice.arn, operations: ['Decrypt'] };
    const result = decide({ key: DEFAULT, identity: ENCRYPT_ANY, grants: [grant], caller: P.alice, action: 'kms:Encrypt' });
    expect(result.trace.map((l) => l.source)).toEqual(['key policy', "identity policy 'CallerPolicy'", 'grant g-1']);
    expect(result.trace[2]).toMatchObject({ applies: false, detail: 'Encrypt is not among its operations' });
  });
});
