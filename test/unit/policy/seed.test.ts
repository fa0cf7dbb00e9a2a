import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/domain/principal.js';
import { parsePolicy } from '../../../src/policy/document.js';
import { authorizeKmsRequest } from '../../../src/policy/kms-authorization.js';
import { A, KEY_ARN, P, grantsAction, identityPolicy, principal } from './fixtures.js';
import { ADMINISTRATOR_ROOT, DEVELOPER_ROLE, DYNAMODB_SERVICE, S3_SERVICE, SSO_USERS, seedPolicy } from './seed-policies.js';

type Row = [label: string, caller: Principal, action: string, expected: 'Allow' | 'Deny', withIdentityPolicy?: boolean];

function decide(seed: string, [, caller, action, , withIdentityPolicy]: Row) {
  const identity = withIdentityPolicy ? [identityPolicy('KmsAll', grantsAction('kms:*'))] : [];
  return authorizeKmsRequest({
    keyPolicy: parsePolicy(seedPolicy(seed, A), { kind: 'key' }),
    identityPolicies: identity,
    request: { principal: caller, action, resource: KEY_ARN, encryptionContext: {} },
    keyAccount: A,
  });
}

const SEEDS: [name: string, seed: string, rows: Row[]][] = [
  ['administrator (account root, kms:*)', ADMINISTRATOR_ROOT, [
    ['the root may PutKeyPolicy', P.rootA, 'kms:PutKeyPolicy', 'Allow'],
    ['the root may ScheduleKeyDeletion', P.rootA, 'kms:ScheduleKeyDeletion', 'Allow'],
    ['the root may Encrypt', P.rootA, 'kms:Encrypt', 'Allow'],
    ['a role of the account with an identity policy may (delegation)', P.devSession, 'kms:PutKeyPolicy', 'Allow', true],
    ['a role of the account without an identity policy may not', P.devSession, 'kms:Encrypt', 'Deny'],
    ['a user of the account without an identity policy may not', P.alice, 'kms:Decrypt', 'Deny'],
    ['another account root may not', P.rootB, 'kms:Encrypt', 'Deny'],
    ['a service may not', P.s3, 'kms:Encrypt', 'Deny'],
  ]],
  ['developer role', DEVELOPER_ROLE, [
    ['a DeveloperRole session may Encrypt', P.devSession, 'kms:Encrypt', 'Allow'],
    ['a DeveloperRole session may Decrypt', P.devSession, 'kms:Decrypt', 'Allow'],
    ['a DeveloperRole session may GenerateDataKey', P.devSession, 'kms:GenerateDataKey', 'Allow'],
    ['a DeveloperRole session may DescribeKey', P.devSession, 'kms:DescribeKey', 'Allow'],
    ['the DeveloperRole itself may Encrypt', P.devRole, 'kms:Encrypt', 'Allow'],
    ['"kms:ReEncrypt" names no real action, so ReEncryptFrom is denied', P.devSession, 'kms:ReEncryptFrom', 'Deny'],
    ['… and ReEncryptTo is denied', P.devSession, 'kms:ReEncryptTo', 'Deny'],
    ['GenerateDataKeyWithoutPlaintext is not GenerateDataKey', P.devSession, 'kms:GenerateDataKeyWithoutPlaintext', 'Deny'],
    ['a developer may not PutKeyPolicy', P.devSession, 'kms:PutKeyPolicy', 'Deny'],
    ['a developer may not ScheduleKeyDeletion', P.devSession, 'kms:ScheduleKeyDeletion', 'Deny'],
    ['a developer may not CreateGrant', P.devSession, 'kms:CreateGrant', 'Deny'],
    ['another role may not Encrypt', P.otherSession, 'kms:Encrypt', 'Deny'],
    ['a DeveloperRole of another account may not Encrypt', P.extDevSession, 'kms:Encrypt', 'Deny', true],
    ['the root is not named and may not Encrypt', P.rootA, 'kms:Encrypt', 'Deny'],
  ]],
  ['SSO assumed-role users', SSO_USERS, [
    ['user1 may Encrypt', P.ssoUser1, 'kms:Encrypt', 'Allow'],
    ['user2 may Decrypt', P.ssoUser2, 'kms:Decrypt', 'Allow'],
    ['user1 may GenerateDataKey', P.ssoUser1, 'kms:GenerateDataKey', 'Allow'],
    ['user2 may DescribeKey', P.ssoUser2, 'kms:DescribeKey', 'Allow'],
    ['user3 of the same role may not Encrypt', P.ssoUser3, 'kms:Encrypt', 'Deny'],
    ['the SSO_ROLE itself is not a named session', P.ssoRole, 'kms:Encrypt', 'Deny'],
    ['user1 may not PutKeyPolicy', P.ssoUser1, 'kms:PutKeyPolicy', 'Deny'],
    ['user2 may not ReEncryptFrom ("kms:ReEncrypt" names no real action)', P.ssoUser2, 'kms:ReEncryptFrom', 'Deny'],
    ['user1 of another account SSO_ROLE may not', principal('arn:aws:sts::444455556666:assumed-role/SSO_ROLE/user1'), 'kms:Encrypt', 'Deny', true],
  ]],
  ['s3 service principal', S3_SERVICE, [
    ['s3 may Encrypt', P.s3, 'kms:Encrypt', 'Allow'],
    ['s3 may Decrypt', P.s3, 'kms:Decrypt', 'Allow'],
    ['s3 may ReEncryptFrom (kms:ReEncrypt*)', P.s3, 'kms:ReEncryptFrom', 'Allow'],
    ['s3 may ReEncryptTo (kms:ReEncrypt*)', P.s3, 'kms:ReEncryptTo', 'Allow'],
    ['s3 may GenerateDataKeyWithoutPlaintext (kms:GenerateDataKey*)', P.s3, 'kms:GenerateDataKeyWithoutPlaintext', 'Allow'],
    ['s3 may DescribeKey', P.s3, 'kms:DescribeKey', 'Allow'],
    ['s3 may not ScheduleKeyDeletion', P.s3, 'kms:ScheduleKeyDeletion', 'Deny'],
    ['s3 may not CreateGrant', P.s3, 'kms:CreateGrant', 'Deny'],
    ['dynamodb may not use the s3 statement', P.dynamodb, 'kms:Encrypt', 'Deny'],
    ['a role may not use the s3 statement', P.devSession, 'kms:Encrypt', 'Deny', true],
  ]],
  ['dynamodb service principal', DYNAMODB_SERVICE, [
    ['dynamodb may Encrypt', P.dynamodb, 'kms:Encrypt', 'Allow'],
    ['dynamodb may GenerateDataKey', P.dynamodb, 'kms:GenerateDataKey', 'Allow'],
    ['dynamodb may ReEncryptTo', P.dynamodb, 'kms:ReEncryptTo', 'Allow'],
    ['dynamodb may DescribeKey', P.dynamodb, 'kms:DescribeKey', 'Allow'],
    ['dynamodb may not PutKeyPolicy', P.dynamodb, 'kms:PutKeyPolicy', 'Deny'],
    ['dynamodb may not Sign', P.dynamodb, 'kms:Sign', 'Deny'],
    ['s3 may not use the dynamodb statement', P.s3, 'kms:Decrypt', 'Deny'],
  ]],
];

describe('the seed policies, used verbatim', () => {
  for (const [name, seed, rows] of SEEDS) {
    describe(name, () => {
      it.each(rows)('%s', (...row) => {
        const result = decide(seed, row);
        expect(result.decision, result.reason).toBe(row[3]);
      });
    });
  }
});

describe('the seed statements together in one key policy', () => {
  const all = [S3_SERVICE, DYNAMODB_SERVICE, ADMINISTRATOR_ROOT, DEVELOPER_ROLE, SSO_USERS].join(',\n');
  const policy = parsePolicy(seedPolicy(all, A), { kind: 'key' });
  const run = (caller: Principal, action: string) =>
    authorizeKmsRequest({ keyPolicy: policy, identityPolicies: [], request: { principal: caller, action, resource: KEY_ARN }, keyAccount: A });

  it.each([
    ['s3 Encrypt is allowed by AllowS3UseKey', P.s3, 'kms:Encrypt', "Allow by key policy statement 'AllowS3UseKey' (#0)"],
    ['dynamodb Decrypt is allowed by AllowDynamoDBUseKey', P.dynamodb, 'kms:Decrypt', "Allow by key policy statement 'AllowDynamoDBUseKey' (#1)"],
    ['the root is allowed by AllowAccountRoot', P.rootA, 'kms:PutKeyPolicy', "Allow by key policy statement 'AllowAccountRoot' (#2)"],
    ['a developer session is allowed by AllowDeveloperAccess', P.devSession, 'kms:Encrypt', "Allow by key policy statement 'AllowDeveloperAccess' (#3)"],
    ['user2 is allowed by AllowSSOUserAccess', P.ssoUser2, 'kms:Decrypt', "Allow by key policy statement 'AllowSSOUserAccess' (#4)"],
    ['a developer may not PutKeyPolicy without an identity policy', P.devSession, 'kms:PutKeyPolicy', /AllowAccountRoot' \(#2\) delegates to account 111122223333, but no identity policy allows kms:PutKeyPolicy/],
    ['user3 may not Encrypt without an identity policy', P.ssoUser3, 'kms:Encrypt', /delegates to account/],
  ] as const)('%s', (_label, caller, action, reason) => {
    const result = run(caller, action);
    expect(result.reason).toMatch(typeof reason === 'string' ? new RegExp(`^${reason.replace(/[()]/g, '\\$&')}$`) : reason);
  });

  it('the administrator statement with its # comment is not JSON, and is refused', () => {
    const raw = `{"Version": "2012-10-17", "Statement": [${ADMINISTRATOR_ROOT.replaceAll('ACCOUNT_ID', A)}]}`;
    expect(() => parsePolicy(raw, { kind: 'key' })).toThrowError(/a character a key policy may not hold/);
    expect(() => parsePolicy(raw.replace('完全な管理権限', 'full admin'), { kind: 'key' })).toThrowError(/not valid JSON/);
  });
});
