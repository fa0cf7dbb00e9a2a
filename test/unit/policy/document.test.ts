import { describe, expect, it } from 'vitest';
import { KmsError } from '../../../src/domain/errors.js';
import { MAX_KEY_POLICY_BYTES, parsePolicy, type PolicyKind } from '../../../src/policy/document.js';
import { A } from './fixtures.js';

const ROOT = `arn:aws:iam::${A}:root`;
const ok = { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };
const doc = (statement: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ Version: '2012-10-17', ...extra, Statement: statement });

describe('parsePolicy accepts the grammar AWS KMS key policies use', () => {
  const VALID: [label: string, text: string, kind: PolicyKind][] = [
    ['a single statement object', doc(ok), 'key'],
    ['a statement array', doc([ok, { ...ok, Effect: 'Deny', Action: 'kms:ScheduleKeyDeletion' }]), 'key'],
    ['Version 2008-10-17', doc(ok).replace('2012-10-17', '2008-10-17'), 'key'],
    ['no Version (AWS defaults to 2008-10-17)', JSON.stringify({ Statement: ok }), 'key'],
    ['an Id', doc(ok, { Id: 'key-consolepolicy-3' }), 'key'],
    ['a Sid with spaces (as the default policy has)', doc({ ...ok, Sid: 'Enable IAM User Permissions' }), 'key'],
    ['Principal "*"', doc({ ...ok, Principal: '*' }), 'key'],
    ['Principal {AWS: "*"}', doc({ ...ok, Principal: { AWS: '*' } }), 'key'],
    ['an account id principal', doc({ ...ok, Principal: { AWS: A } }), 'key'],
    ['a role with a path', doc({ ...ok, Principal: { AWS: `arn:aws:iam::${A}:role/team/app/Reader` } }), 'key'],
    ['a user', doc({ ...ok, Principal: { AWS: `arn:aws:iam::${A}:user/alice` } }), 'key'],
    ['assumed-role sessions', doc({ ...ok, Principal: { AWS: [`arn:aws:sts::${A}:assumed-role/R/s1`, `arn:aws:sts::${A}:assumed-role/R/s2`] } }), 'key'],
    ['service principals as a list', doc({ ...ok, Principal: { Service: ['s3.amazonaws.com', 'dynamodb.amazonaws.com'] } }), 'key'],
    ['AWS and Service principals together', doc({ ...ok, Principal: { AWS: ROOT, Service: 'logs.us-east-1.amazonaws.com' } }), 'key'],
    ['NotPrincipal with Deny', doc({ ...ok, Effect: 'Deny', Principal: undefined, NotPrincipal: { AWS: ROOT } }), 'key'],
    ['NotAction', doc({ ...ok, Action: undefined, NotAction: ['kms:ScheduleKeyDeletion', 'kms:Delete*'] }), 'key'],
    ['NotResource', doc({ ...ok, Resource: undefined, NotResource: `arn:aws:kms:*:${A}:key/*` }), 'key'],
    ['action wildcards', doc({ ...ok, Action: ['kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:?ncrypt', '*'] }), 'key'],
    ['a Condition', doc({ ...ok, Condition: { StringEquals: { 'kms:CallerAccount': A }, Bool: { 'aws:SecureTransport': true } } }), 'key'],
    ['an identity policy (no Principal)', doc({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: `arn:aws:kms:us-east-1:${A}:key/*` }), 'identity'],
  ];
  it.each(VALID)('%s', (_label, text, kind) => {
    const policy = parsePolicy(text, { kind });
    expect(policy.kind).toBe(kind);
    expect(policy.text).toBe(text);
    expect(policy.statements.length).toBeGreaterThan(0);
  });

  it('compiles each statement with its index, Sid and Effect', () => {
    const policy = parsePolicy(doc([{ ...ok, Sid: 'Admins' }, { ...ok, Effect: 'Deny' }]), { kind: 'key' });
    expect(policy.statements.map((s) => [s.index, s.sid, s.effect])).toEqual([[0, 'Admins', 'Allow'], [1, undefined, 'Deny']]);
    expect(policy.version).toBe('2012-10-17');
  });

  it('defaults Version to 2008-10-17 and keeps the Id', () => {
    const policy = parsePolicy(JSON.stringify({ Id: 'p1', Statement: ok }), { kind: 'key' });
    expect([policy.version, policy.id]).toEqual(['2008-10-17', 'p1']);
  });

  it('accepts a key policy of exactly 32 KiB', () => {
    const base = doc({ ...ok, Sid: '' });
    const text = base.replace('"Sid":""', `"Sid":"${'x'.repeat(MAX_KEY_POLICY_BYTES - base.length)}"`);
    expect(Buffer.byteLength(text)).toBe(MAX_KEY_POLICY_BYTES);
    expect(() => parsePolicy(text, { kind: 'key' })).not.toThrow();
  });
});

type Bad = [label: string, text: string, message: RegExp, kind?: PolicyKind];
const MALFORMED: Bad[] = [
  ['text that is not JSON', '{"Statement": [', /The policy is not valid JSON/],
  ['a JSON array', '[]', /The policy must be a JSON object/],
  ['an unknown top-level field', doc(ok, { Statements: [] }), /The policy has an unknown field 'Statements'/],
  ['a top-level field in the wrong case', JSON.stringify({ Version: '2012-10-17', statement: ok }), /unknown field 'statement' \(did you mean 'Statement'\?\)/],
  ['an unknown Version', doc(ok).replace('2012-10-17', '2020-01-01'), /Version must be 2012-10-17 or 2008-10-17/],
  ['a numeric Version', JSON.stringify({ Version: 2012, Statement: ok }), /Version must be/],
  ['an Id that is not a string', doc(ok, { Id: 5 }), /Id must be a string/],
  ['no Statement', JSON.stringify({ Version: '2012-10-17' }), /The policy has no Statement/],
  ['an empty Statement list', doc([]), /Statement must hold at least one statement/],
  ['a statement that is not an object', doc([ok, 'Allow']), /Statement\[1\] must be an object/],
  ['a missing Effect', doc([{ ...ok, Effect: undefined }]), /Statement\[0\]\.Effect is required: Allow or Deny/],
  ['an Effect in the wrong case', doc([ok, ok, { ...ok, Effect: 'allow' }]), /Statement\[2\]\.Effect must be Allow or Deny/],
  ['an Effect that is not a string', doc({ ...ok, Effect: true }), /Statement\.Effect must be Allow or Deny/],
  ['an unknown statement field', doc([{ ...ok, Actions: 'kms:*' }]), /Statement\[0\] has an unknown field 'Actions'/],
  ['a statement field in the wrong case', doc([{ ...ok, effect: 'Allow' }]), /unknown field 'effect' \(did you mean 'Effect'\?\)/],
  ['a Sid that is not a string', doc([{ ...ok, Sid: 7 }]), /Statement\[0\]\.Sid must be a string/],
  ['both Action and NotAction', doc([{ ...ok, NotAction: 'kms:Decrypt' }]), /Statement\[0\] has both Action and NotAction; use one/],
  ['neither Action nor NotAction', doc([{ ...ok, Action: undefined }]), /Statement\[0\] has no Action or NotAction/],
  ['both Resource and NotResource', doc([{ ...ok, NotResource: '*' }]), /has both Resource and NotResource/],
  ['neither Resource nor NotResource', doc([{ ...ok, Resource: undefined }]), /has no Resource or NotResource/],
  ['an empty action', doc([{ ...ok, Action: '' }]), /Statement\[0\]\.Action '' is not an action such as kms:Encrypt/],
  ['an action without a service prefix', doc([{ ...ok, Action: ['kms:Encrypt', 'Decrypt'] }]), /Statement\[0\]\.Action\[1\] 'Decrypt' is not an action/],
  ['an empty Action list', doc([{ ...ok, Action: [] }]), /Action must be a string or a non-empty list of strings/],
  ['a number among actions', doc([{ ...ok, Action: [1] }]), /Action must be a string or a non-empty list of strings/],
  ['a Resource that is neither * nor an ARN', doc([{ ...ok, Resource: 'key/1234' }]), /Resource 'key\/1234' must be "\*" or an ARN/],
  ['a key policy statement without Principal', doc([{ ...ok, Principal: undefined }]), /Statement\[0\] has no Principal: a key policy statement must name one/],
  ['both Principal and NotPrincipal', doc([{ ...ok, Effect: 'Deny', NotPrincipal: '*' }]), /has both Principal and NotPrincipal/],
  ['NotPrincipal with Allow', doc([{ ...ok, Principal: undefined, NotPrincipal: { AWS: ROOT } }]), /Statement\[0\]\.NotPrincipal is supported only with Effect Deny/],
  ['a Principal given as a bare ARN string', doc([{ ...ok, Principal: ROOT }]), /Statement\[0\]\.Principal must be "\*" or an object with AWS or Service principals/],
  ['an empty Principal object', doc([{ ...ok, Principal: {} }]), /Principal must be "\*" or an object/],
  ['a group as principal', doc([{ ...ok, Principal: { AWS: `arn:aws:iam::${A}:group/Admins` } }]), /Statement\[0\]\.Principal\.AWS '.*group\/Admins' is not a valid AWS principal/],
  ['a wildcard inside a principal ARN', doc([{ ...ok, Principal: { AWS: ['*', 'arn:aws:iam::*:root'] } }]), /Principal\.AWS\[1\] 'arn:aws:iam::\*:root' is not a valid AWS principal/],
  ['an eleven-digit account id', doc([{ ...ok, Principal: { AWS: '11112222333' } }]), /'11112222333' is not a valid AWS principal/],
  ['a service principal under AWS', doc([{ ...ok, Principal: { AWS: 's3.amazonaws.com' } }]), /'s3.amazonaws.com' is not a valid AWS principal/],
  ['a Federated principal', doc([{ ...ok, Principal: { Federated: 'cognito-identity.amazonaws.com' } }]), /Principal\.Federated is not supported: use AWS or Service principals/],
  ['a service principal that is not a service name', doc([{ ...ok, Principal: { Service: 'S3 please' } }]), /Principal\.Service 'S3 please' is not a valid service principal/],
  ['an empty AWS principal list', doc([{ ...ok, Principal: { AWS: [] } }]), /Principal\.AWS must be a string or a non-empty list of strings/],
  ['a Principal in an identity policy', doc([ok]), /Statement\[0\]: an identity policy may not name a Principal or NotPrincipal/, 'identity'],
  ['a key policy over 32 KiB', doc({ ...ok, Sid: 'x'.repeat(MAX_KEY_POLICY_BYTES) }), /bytes; the limit is 32768/],
  ['an identity policy over its configured limit', doc({ Effect: 'Allow', Action: 'kms:*', Resource: '*', Sid: 'x'.repeat(100) }), /the limit is 64/, 'identity'],
  ['a character a key policy may not hold', doc({ ...ok, Sid: 'snow\u2603man' }), /a character a key policy may not hold, at position \d+/],
  ['a Condition that is not an object', doc([{ ...ok, Condition: 'x' }]), /Statement\[0\]\.Condition must be an object of condition operators/],
  ['an unknown condition operator, with its path', doc([ok, { ...ok, Condition: { StringContains: { 'kms:ViaService': 'x' } } }]), /Statement\[1\]\.Condition\.StringContains\.kms:ViaService: 'StringContains' is not a supported condition operator/],
  ['a condition value that does not fit its operator', doc({ ...ok, Condition: { IpAddress: { 'aws:SourceIp': 'localhost' } } }), /Statement\.Condition\.IpAddress\.aws:SourceIp value 'localhost' is not an IP address/],
];

describe('parsePolicy refuses a malformed document with MalformedPolicyDocumentException naming what and where', () => {
  it.each(MALFORMED)('%s', (label, text, message, kind = 'key') => {
    const maxBytes = label.includes('configured limit') ? 64 : undefined;
    let thrown: unknown;
    try {
      parsePolicy(text, { kind, ...(maxBytes ? { maxBytes } : {}) });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KmsError);
    expect((thrown as KmsError).name).toBe('MalformedPolicyDocumentException');
    expect((thrown as KmsError).message).toMatch(message);
  });
});
