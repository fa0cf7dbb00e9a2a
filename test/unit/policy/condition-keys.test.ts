import { describe, expect, it } from 'vitest';
import { principalConditionKeys, type RequestContextInput } from '../../../src/policy/context.js';
import { A, B, DEV_ROLE, P, allow, deny, type Statement } from './fixtures.js';
import { decide } from './scenarios.js';

/**
 * Every condition key of issue 5, in a key policy statement for the developer role, with one request
 * context it allows and one it denies. `guard: true` means the condition sits on a Deny beside a
 * plain Allow (the usual shape for keys such as aws:SecureTransport).
 */
interface KeyCase {
  readonly key: string;
  readonly action: string;
  readonly condition: Record<string, Record<string, unknown>>;
  readonly allowed: RequestContextInput;
  readonly denied: RequestContextInput;
  readonly guard?: boolean;
}

const CASES: KeyCase[] = [
  { key: 'kms:EncryptionContext:<key>', action: 'kms:Decrypt', condition: { StringEquals: { 'kms:EncryptionContext:dept': 'finance' } }, allowed: { 'kms:EncryptionContext:dept': 'finance' }, denied: { 'kms:EncryptionContext:dept': 'hr' } },
  { key: 'kms:EncryptionContextKeys', action: 'kms:Encrypt', condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['dept', 'project'] }, Null: { 'kms:EncryptionContextKeys': 'false' } }, allowed: { 'kms:EncryptionContextKeys': ['dept'] }, denied: { 'kms:EncryptionContextKeys': ['dept', 'secret'] } },
  { key: 'kms:EncryptionContextKeys (absent)', action: 'kms:Encrypt', condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['dept'] }, Null: { 'kms:EncryptionContextKeys': 'false' } }, allowed: { 'kms:EncryptionContextKeys': ['dept'] }, denied: {} },
  { key: 'kms:CallerAccount', action: 'kms:Encrypt', condition: { StringEquals: { 'kms:CallerAccount': A } }, allowed: { 'kms:CallerAccount': A }, denied: { 'kms:CallerAccount': B } },
  { key: 'kms:ViaService', action: 'kms:Decrypt', condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } }, allowed: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' }, denied: {} },
  { key: 'kms:EncryptionAlgorithm', action: 'kms:Encrypt', condition: { StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } }, allowed: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' }, denied: { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' } },
  { key: 'kms:SigningAlgorithm', action: 'kms:Sign', condition: { StringLike: { 'kms:SigningAlgorithm': 'RSASSA_PSS_*' } }, allowed: { 'kms:SigningAlgorithm': 'RSASSA_PSS_SHA_256' }, denied: { 'kms:SigningAlgorithm': 'RSASSA_PKCS1_V1_5_SHA_256' } },
  { key: 'kms:MacAlgorithm', action: 'kms:GenerateMac', condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } }, allowed: { 'kms:MacAlgorithm': 'HMAC_SHA_256' }, denied: { 'kms:MacAlgorithm': 'HMAC_SHA_512' } },
  { key: 'kms:MessageType', action: 'kms:Sign', condition: { StringEquals: { 'kms:MessageType': 'DIGEST' } }, allowed: { 'kms:MessageType': 'DIGEST' }, denied: { 'kms:MessageType': 'RAW' } },
  { key: 'kms:KeySpec', action: 'kms:DescribeKey', condition: { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' } }, allowed: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT' }, denied: { 'kms:KeySpec': 'RSA_2048' } },
  { key: 'kms:KeyUsage', action: 'kms:DescribeKey', condition: { StringEquals: { 'kms:KeyUsage': 'ENCRYPT_DECRYPT' } }, allowed: { 'kms:KeyUsage': 'ENCRYPT_DECRYPT' }, denied: { 'kms:KeyUsage': 'SIGN_VERIFY' } },
  { key: 'kms:KeyOrigin', action: 'kms:DescribeKey', condition: { StringEquals: { 'kms:KeyOrigin': 'AWS_KMS' } }, allowed: { 'kms:KeyOrigin': 'AWS_KMS' }, denied: { 'kms:KeyOrigin': 'EXTERNAL' } },
  { key: 'kms:RequestAlias', action: 'kms:Encrypt', condition: { StringLike: { 'kms:RequestAlias': 'alias/finance-*' } }, allowed: { 'kms:RequestAlias': 'alias/finance-key' }, denied: {} },
  { key: 'kms:ResourceAliases', action: 'kms:Encrypt', condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/finance' } }, allowed: { 'kms:ResourceAliases': ['alias/x', 'alias/finance'] }, denied: { 'kms:ResourceAliases': ['alias/hr'] } },
  { key: 'kms:GrantOperations', action: 'kms:CreateGrant', condition: { 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Encrypt', 'Decrypt'] } }, allowed: { 'kms:GrantOperations': ['Decrypt'] }, denied: { 'kms:GrantOperations': ['Decrypt', 'RetireGrant'] } },
  { key: 'kms:GranteePrincipal', action: 'kms:CreateGrant', condition: { StringLike: { 'kms:GranteePrincipal': `arn:aws:iam::${A}:role/*` } }, allowed: { 'kms:GranteePrincipal': `arn:aws:iam::${A}:role/App` }, denied: { 'kms:GranteePrincipal': `arn:aws:iam::${B}:role/App` } },
  { key: 'kms:GrantIsForAWSResource', action: 'kms:CreateGrant', condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } }, allowed: { 'kms:GrantIsForAWSResource': true }, denied: { 'kms:GrantIsForAWSResource': false } },
  { key: 'kms:ReEncryptOnSameKey', action: 'kms:ReEncryptFrom', condition: { Bool: { 'kms:ReEncryptOnSameKey': 'true' } }, allowed: { 'kms:ReEncryptOnSameKey': false }, denied: { 'kms:ReEncryptOnSameKey': true }, guard: true },
  { key: 'kms:BypassPolicyLockoutSafetyCheck', action: 'kms:PutKeyPolicy', condition: { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': true } }, allowed: { 'kms:BypassPolicyLockoutSafetyCheck': false }, denied: { 'kms:BypassPolicyLockoutSafetyCheck': true }, guard: true },
  { key: 'aws:PrincipalArn', action: 'kms:Encrypt', condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${A}:role/Developer*` } }, allowed: principalConditionKeys(P.devSession), denied: { 'aws:PrincipalArn': `arn:aws:iam::${A}:role/Other` } },
  { key: 'aws:PrincipalAccount', action: 'kms:Encrypt', condition: { StringEquals: { 'aws:PrincipalAccount': A } }, allowed: principalConditionKeys(P.devSession), denied: { 'aws:PrincipalAccount': B } },
  { key: 'aws:SourceIp', action: 'kms:Decrypt', condition: { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', 'fd00::/8'] } }, allowed: { 'aws:SourceIp': '10.1.2.3' }, denied: { 'aws:SourceIp': '192.0.2.1' }, guard: true },
  { key: 'aws:CurrentTime', action: 'kms:Decrypt', condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, allowed: { 'aws:CurrentTime': '2026-03-01T09:30:00Z' }, denied: { 'aws:CurrentTime': '2031-01-01T00:00:00Z' } },
  { key: 'aws:SecureTransport', action: 'kms:Decrypt', condition: { BoolIfExists: { 'aws:SecureTransport': 'false' } }, allowed: { 'aws:SecureTransport': true }, denied: { 'aws:SecureTransport': false }, guard: true },
  { key: 'aws:ResourceTag/<key>', action: 'kms:Encrypt', condition: { StringEquals: { 'aws:ResourceTag/Project': 'Alpha' } }, allowed: { 'aws:ResourceTag/Project': 'Alpha' }, denied: { 'aws:ResourceTag/Project': 'Beta' } },
  { key: 'aws:RequestTag/<key>', action: 'kms:TagResource', condition: { StringEquals: { 'aws:RequestTag/Owner': 'team-a' } }, allowed: { 'aws:RequestTag/Owner': 'team-a' }, denied: { 'aws:RequestTag/Owner': 'team-b' } },
  { key: 'aws:TagKeys', action: 'kms:TagResource', condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Owner', 'Project'] } }, allowed: { 'aws:TagKeys': ['Owner'] }, denied: { 'aws:TagKeys': ['Owner', 'CostCenter'] } },
];

function statements(c: KeyCase): Statement[] {
  return c.guard
    ? [allow(DEV_ROLE, c.action), deny('*', c.action, { Condition: c.condition })]
    : [allow(DEV_ROLE, c.action, { Condition: c.condition })];
}

describe('every condition key KMS requests carry', () => {
  const rows = CASES.flatMap((c) => [
    [`${c.key}: allowed`, c, c.allowed, 'Allow'] as const,
    [`${c.key}: denied`, c, c.denied, 'Deny'] as const,
  ]);
  it.each(rows)('%s', (_label, c, context, expected) => {
    const result = decide({ key: statements(c), caller: P.devSession, action: c.action, context });
    expect(result.decision, result.reason).toBe(expected);
  });

  it('principalConditionKeys names the role, not the session, as aws:PrincipalArn', () => {
    expect(principalConditionKeys(P.devSession)).toEqual({
      'aws:PrincipalArn': `arn:aws:iam::${A}:role/DeveloperRole`,
      'aws:PrincipalAccount': A,
      'kms:CallerAccount': A,
    });
    expect(principalConditionKeys(P.s3)).toEqual({});
  });
});
