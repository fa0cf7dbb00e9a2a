import { describe, expect, it } from 'vitest';
import { evaluate, formatDecision, type PolicyRequest } from '../../../src/policy/evaluate.js';
import { compileArnMatcher, compileWildcard } from '../../../src/policy/wildcard.js';
import { A, B, KEY_ARN, OTHER_KEY_ARN, P, allow, deny, grantsAction, identityPolicy, keyPolicy, type Statement } from './fixtures.js';

const request = (action: string, resource = KEY_ARN, principal = P.devRole): PolicyRequest => ({ principal, action, resource });
const DEV = { AWS: `arn:aws:iam::${A}:role/DeveloperRole` };

/** One key policy statement allowing the developer role `action`; does it allow `requested`? */
type ActionRow = [label: string, action: unknown, requested: string, allowed: boolean];
const ACTIONS: ActionRow[] = [
  ['kms:* matches any KMS action', 'kms:*', 'kms:ScheduleKeyDeletion', true],
  ['* matches any action', '*', 'kms:Encrypt', true],
  ['an exact action matches itself', 'kms:Encrypt', 'kms:Encrypt', true],
  ['an exact action does not match another', 'kms:Encrypt', 'kms:Decrypt', false],
  ['action names are case-insensitive', 'KMS:encrypt', 'kms:Encrypt', true],
  ['kms:ReEncrypt* matches ReEncryptFrom', 'kms:ReEncrypt*', 'kms:ReEncryptFrom', true],
  ['kms:ReEncrypt* matches ReEncryptTo', 'kms:ReEncrypt*', 'kms:ReEncryptTo', true],
  ['kms:ReEncrypt (no wildcard) matches neither ReEncrypt action', 'kms:ReEncrypt', 'kms:ReEncryptFrom', false],
  ['kms:GenerateDataKey* matches GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKey*', 'kms:GenerateDataKeyWithoutPlaintext', true],
  ['kms:GenerateDataKey* matches GenerateDataKeyPair', 'kms:GenerateDataKey*', 'kms:GenerateDataKeyPair', true],
  ['kms:GenerateDataKey* matches GenerateDataKey itself', 'kms:GenerateDataKey*', 'kms:GenerateDataKey', true],
  ['kms:GenerateDataKey does not match GenerateDataKeyPair', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', false],
  ['? matches one character', 'kms:?ncrypt', 'kms:Encrypt', true],
  ['? does not match an empty place', 'kms:?Encrypt', 'kms:Encrypt', false],
  ['kms:Describe* matches DescribeKey', 'kms:Describe*', 'kms:DescribeKey', true],
  ['kms:Describe* does not match Decrypt', 'kms:Describe*', 'kms:Decrypt', false],
  ['kms:*Key matches DescribeKey', 'kms:*Key', 'kms:DescribeKey', true],
  ['kms:*Key does not match Encrypt', 'kms:*Key', 'kms:Encrypt', false],
  ['another service does not match', 's3:*', 'kms:Encrypt', false],
  ['a list matches any of its actions', ['kms:Decrypt', 'kms:Encrypt'], 'kms:Encrypt', true],
  ['a list matches none outside it', ['kms:Decrypt', 'kms:Encrypt'], 'kms:Sign', false],
];

describe('Action wildcards', () => {
  it.each(ACTIONS)('%s', (_label, action, requested, allowed) => {
    const result = evaluate(request(requested), [{ name: 'k', policy: keyPolicy(allow(DEV, action)) }]);
    expect(result.decision).toBe(allowed ? 'Allow' : 'Deny');
  });
});

type ResourceRow = [label: string, resource: Statement, requested: string, allowed: boolean];
const RESOURCES: ResourceRow[] = [
  ['Resource * matches the key', { Resource: '*' }, KEY_ARN, true],
  ['Resource * matches an account-level request', { Resource: '*' }, '*', true],
  ['the key ARN matches the key', { Resource: KEY_ARN }, KEY_ARN, true],
  ['the key ARN does not match another key', { Resource: KEY_ARN }, OTHER_KEY_ARN, false],
  ['key/* matches every key of the account and region', { Resource: `arn:aws:kms:us-east-1:${A}:key/*` }, OTHER_KEY_ARN, true],
  ['key/* does not match a key of another account', { Resource: `arn:aws:kms:us-east-1:${B}:key/*` }, KEY_ARN, false],
  ['a region wildcard matches', { Resource: `arn:aws:kms:*:${A}:key/*` }, KEY_ARN, true],
  ['another region does not match', { Resource: `arn:aws:kms:eu-west-1:${A}:key/*` }, KEY_ARN, false],
  ['a key ARN does not match an account-level request', { Resource: `arn:aws:kms:*:${A}:key/*` }, '*', false],
  ['resource ARNs are case-sensitive', { Resource: KEY_ARN.toUpperCase().replace('ARN:AWS:KMS', 'arn:aws:kms') }, KEY_ARN, false],
  ['? in a key id matches one character', { Resource: KEY_ARN.replace(/a$/, '?') }, KEY_ARN, true],
  ['a Resource list matches any of its ARNs', { Resource: [OTHER_KEY_ARN, KEY_ARN] }, KEY_ARN, true],
  ['NotResource excludes the key it names', { NotResource: KEY_ARN }, KEY_ARN, false],
  ['NotResource covers every other key', { NotResource: KEY_ARN }, OTHER_KEY_ARN, true],
  ['NotResource * excludes everything', { NotResource: '*' }, KEY_ARN, false],
];

describe('Resource and NotResource', () => {
  it.each(RESOURCES)('%s', (_label, resource, requested, allowed) => {
    const statement = { Effect: 'Allow', Principal: DEV, Action: 'kms:Encrypt', ...resource };
    const result = evaluate(request('kms:Encrypt', requested), [{ name: 'k', policy: keyPolicy(statement) }]);
    expect(result.decision).toBe(allowed ? 'Allow' : 'Deny');
  });
});

describe('NotAction', () => {
  const policy = keyPolicy({ Effect: 'Allow', Principal: DEV, NotAction: ['kms:ScheduleKeyDeletion', 'kms:Delete*'], Resource: '*' });
  it.each([
    ['allows an action it does not list', 'kms:Encrypt', 'Allow'],
    ['does not allow an action it lists', 'kms:ScheduleKeyDeletion', 'Deny'],
    ['does not allow an action its wildcard lists', 'kms:DeleteImportedKeyMaterial', 'Deny'],
  ])('%s', (_label, action, decision) => {
    expect(evaluate(request(action), [{ name: 'k', policy }]).decision).toBe(decision);
  });

  it('in a Deny, denies everything but the actions it lists', () => {
    const guard = keyPolicy(allow(DEV, 'kms:*'), deny(DEV, undefined, { Action: undefined, NotAction: ['kms:Encrypt', 'kms:Decrypt'] }));
    expect(evaluate(request('kms:Encrypt'), [{ name: 'k', policy: guard }]).decision).toBe('Allow');
    expect(evaluate(request('kms:PutKeyPolicy'), [{ name: 'k', policy: guard }]).decision).toBe('Deny');
  });
});

describe('explicit Deny over Allow, default deny, and what the decision names', () => {
  it('a Deny in the same policy beats an Allow, and the reason names it by Sid and index', () => {
    const policy = keyPolicy(allow(DEV, 'kms:*'), { ...deny('*', 'kms:Encrypt'), Sid: 'NoEncrypt' });
    const result = evaluate(request('kms:Encrypt'), [{ name: 'k', policy }]);
    expect(result).toMatchObject({ decision: 'Deny', reason: "Deny by key policy statement 'NoEncrypt' (#1)" });
  });

  it('an Allow is named by index when it has no Sid', () => {
    const result = evaluate(request('kms:Encrypt'), [{ name: 'k', policy: keyPolicy(allow(DEV, 'kms:*')) }]);
    expect(result).toMatchObject({ decision: 'Allow', reason: 'Allow by key policy statement #0' });
  });

  it('a Deny in an identity policy beats an Allow in the key policy', () => {
    const policies = [{ name: 'k', policy: keyPolicy(allow(DEV, 'kms:*')) }, identityPolicy('NoDecrypt', { ...grantsAction('kms:Decrypt'), Effect: 'Deny' })];
    expect(evaluate(request('kms:Decrypt'), policies).reason).toBe("Deny by identity policy 'NoDecrypt' statement #0");
  });

  it('a Deny whose condition fails does not apply', () => {
    const policy = keyPolicy(allow(DEV, 'kms:*'), deny('*', 'kms:*', { Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    expect(evaluate({ ...request('kms:Encrypt'), context: { 'aws:SecureTransport': true } }, [{ name: 'k', policy }]).decision).toBe('Allow');
    expect(evaluate({ ...request('kms:Encrypt'), context: { 'aws:SecureTransport': false } }, [{ name: 'k', policy }]).decision).toBe('Deny');
  });

  it('no policy at all denies', () => {
    expect(evaluate(request('kms:Encrypt'), [])).toMatchObject({ decision: 'Deny', reason: 'no statement allows', trace: [] });
  });

  it('an Allow that names only the account does not allow by itself', () => {
    const result = evaluate(request('kms:Encrypt'), [{ name: 'k', policy: keyPolicy(allow({ AWS: A }, 'kms:*')) }]);
    expect(result.decision).toBe('Deny');
    expect(result.trace[0]?.detail).toMatch(/delegates to that account's identity policies/);
  });

  it('the trace lists every statement examined and why it did or did not apply', () => {
    const policy = keyPolicy(
      { ...allow({ AWS: `arn:aws:iam::${A}:role/Other` }, 'kms:*'), Sid: 'Other' },
      allow(DEV, 'kms:Decrypt'),
      allow(DEV, 'kms:Encrypt', { Resource: OTHER_KEY_ARN }),
      allow(DEV, 'kms:Encrypt', { Condition: { StringEquals: { 'kms:EncryptionContext:dept': 'finance' } } }),
      allow(DEV, 'kms:Encrypt'),
    );
    const result = evaluate(request('kms:Encrypt'), [{ name: 'k', policy }]);
    expect(result.trace.map((line) => [line.statement, line.applies, line.detail])).toEqual([
      [0, false, `arn:aws:iam::${A}:role/DeveloperRole is not named in Principal`],
      [1, false, 'kms:Encrypt is not in Action'],
      [2, false, `resource ${KEY_ARN} is not in Resource`],
      [3, false, 'condition StringEquals kms:EncryptionContext:dept ["finance"] is not met'],
      [4, true, 'applies'],
    ]);
    expect(result.trace[0]).toMatchObject({ source: 'key policy', sid: 'Other', effect: 'Allow' });
    expect(result.reason).toBe('Allow by key policy statement #4');
  });

  it('the trace says when NotAction, NotResource or NotPrincipal excluded the request', () => {
    const policy = keyPolicy(
      { Effect: 'Allow', Principal: DEV, NotAction: 'kms:Encrypt', Resource: '*' },
      { Effect: 'Allow', Principal: DEV, Action: '*', NotResource: KEY_ARN },
      { Effect: 'Deny', NotPrincipal: { AWS: [A, DEV.AWS] }, Action: '*', Resource: '*' },
    );
    const details = evaluate(request('kms:Encrypt'), [{ name: 'k', policy }]).trace.map((l) => l.detail);
    expect(details).toEqual([
      'kms:Encrypt is in NotAction',
      `resource ${KEY_ARN} is in NotResource`,
      `arn:aws:iam::${A}:role/DeveloperRole is excluded by NotPrincipal`,
    ]);
  });

  it('formatDecision prints the decision and one line per statement', () => {
    const result = evaluate(request('kms:Encrypt'), [{ name: 'k', policy: keyPolicy({ ...allow(DEV, 'kms:Encrypt'), Sid: 'Dev' }) }]);
    expect(formatDecision(result)).toBe("Allow: Allow by key policy statement 'Dev' (#0)\n  ✓ key policy #0 'Dev' Allow: applies");
  });
});

describe('wildcard matchers', () => {
  it.each([
    ['a*b', 'ab', true], ['a*b', 'axxb', true], ['a*b', 'axxc', false], ['a?c', 'abc', true], ['a?c', 'ac', false],
    ['*', '', true], ['', '', true], ['', 'x', false], ['a**b', 'ab', true], ['*a*a*a*b', 'a'.repeat(5000), false],
    ['prefix*', 'prefix-and-more', true], ['prefix*', 'prefi', false],
  ] as const)('%s ~ %s is %s', (pattern, subject, expected) => {
    expect(compileWildcard(pattern)(subject)).toBe(expected);
  });

  it.each([
    ['arn:aws:iam::*:role/*', `arn:aws:iam::${A}:role/x`, true],
    ['arn:aws:iam::*:role/*', `arn:aws:iam::${A}:user/x`, false],
    ['arn:aws:*', `arn:aws:iam::${A}:role/x`, true],
    ['arn:aws:*', 'not-an-arn', false],
  ] as const)('ARN %s ~ %s is %s', (pattern, subject, expected) => {
    expect(compileArnMatcher(pattern)(subject)).toBe(expected);
  });
});
