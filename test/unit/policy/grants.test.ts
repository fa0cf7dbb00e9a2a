import type { Grant } from '../../../src/policy/grants.js';
import { A, B, DEFAULT_STATEMENTS, DEV_ROLE, P, allow, deny, grantsAction } from './fixtures.js';
import { runScenarios } from './scenarios.js';

const grant = (grantee: string, operations: string[], constraints?: Grant['constraints']): Grant => ({
  grantId: 'grant-1',
  granteePrincipal: grantee,
  operations,
  ...(constraints ? { constraints } : {}),
});
const DEV_ROLE_ARN = `arn:aws:iam::${A}:role/DeveloperRole`;
const ONLY_ROOT = DEFAULT_STATEMENTS;
const EQUALS = { encryptionContextEquals: { dept: 'finance' } };
const SUBSET = { encryptionContextSubset: { dept: 'finance' } };

runScenarios('grants allow their operations to their grantee, independently of key policy Allows', [
  { label: 'a grant to a role allows a session of it', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'])], caller: P.devSession, action: 'kms:Decrypt', expected: 'Allow', reason: /^Allow by grant grant-1$/ },
  { label: 'a grant does not allow an operation it does not list', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'])], caller: P.devSession, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'a grant does not allow another principal', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'])], caller: P.otherSession, action: 'kms:Decrypt', expected: 'Deny' },
  { label: 'a grant to a session allows only that session', key: ONLY_ROOT, grants: [grant(P.ssoUser1.arn, ['Encrypt'])], caller: P.ssoUser1, action: 'kms:Encrypt', expected: 'Allow' },
  { label: 'a grant to a session does not allow another session of the role', key: ONLY_ROOT, grants: [grant(P.ssoUser1.arn, ['Encrypt'])], caller: P.ssoUser2, action: 'kms:Encrypt', expected: 'Deny' },
  { label: 'a grant to a user allows the user', key: ONLY_ROOT, grants: [grant(P.alice.arn, ['DescribeKey'])], caller: P.alice, action: 'kms:DescribeKey', expected: 'Allow' },
  { label: 'a grant to a service principal allows the service', key: ONLY_ROOT, grants: [grant('s3.amazonaws.com', ['GenerateDataKey'])], caller: P.s3, action: 'kms:GenerateDataKey', encryptionContext: {}, expected: 'Allow' },
  { label: 'a grant to a role in another account allows it without an identity policy', key: ONLY_ROOT, grants: [grant(`arn:aws:iam::${B}:role/Partner`, ['Decrypt'])], caller: P.extSession, action: 'kms:Decrypt', expected: 'Allow' },
  { label: 'a grant to another account root delegates: with an identity policy', key: ONLY_ROOT, identity: [grantsAction('kms:Decrypt')], grants: [grant(`arn:aws:iam::${B}:root`, ['Decrypt'])], caller: P.extSession, action: 'kms:Decrypt', expected: 'Allow', reason: /grant grant-1 to account 444455556666 and identity policy/ },
  { label: 'a grant to another account root delegates: without an identity policy', key: ONLY_ROOT, grants: [grant(`arn:aws:iam::${B}:root`, ['Decrypt'])], caller: P.extSession, action: 'kms:Decrypt', expected: 'Deny' },
  { label: 'a grant to an account root allows that root itself', key: ONLY_ROOT, grants: [grant(`arn:aws:iam::${B}:root`, ['Decrypt'])], caller: P.rootB, action: 'kms:Decrypt', expected: 'Allow' },
  { label: 'an explicit Deny in the key policy beats a grant', key: [...ONLY_ROOT, deny(DEV_ROLE, 'kms:Decrypt')], grants: [grant(DEV_ROLE_ARN, ['Decrypt'])], caller: P.devSession, action: 'kms:Decrypt', expected: 'Deny', reason: /^Deny by key policy statement #1$/ },
  { label: 'an explicit Deny in an identity policy beats a grant', key: ONLY_ROOT, identity: [{ ...grantsAction('kms:Decrypt'), Effect: 'Deny' }], grants: [grant(DEV_ROLE_ARN, ['Decrypt'])], caller: P.devSession, action: 'kms:Decrypt', expected: 'Deny' },
  { label: 'a grant for ReEncryptFrom allows that half of ReEncrypt', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['ReEncryptFrom'])], caller: P.devSession, action: 'kms:ReEncryptFrom', encryptionContext: {}, expected: 'Allow' },
  { label: 'a grant for ReEncryptFrom does not allow ReEncryptTo', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['ReEncryptFrom'])], caller: P.devSession, action: 'kms:ReEncryptTo', expected: 'Deny' },
  { label: 'the first matching grant among several allows', key: ONLY_ROOT, grants: [grant(P.alice.arn, ['Encrypt']), { ...grant(DEV_ROLE_ARN, ['Encrypt']), grantId: 'grant-2' }], caller: P.devSession, action: 'kms:Encrypt', expected: 'Allow', reason: /grant-2/ },
  { label: 'a key policy Allow still allows when no grant matches', key: [allow(DEV_ROLE, 'kms:Encrypt')], grants: [grant(P.alice.arn, ['Encrypt'])], caller: P.devSession, action: 'kms:Encrypt', expected: 'Allow', reason: /key policy statement #0/ },
]);

runScenarios('grant constraints: EncryptionContextEquals and EncryptionContextSubset', [
  { label: 'Equals allows the same context', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:Decrypt', encryptionContext: { dept: 'finance' }, expected: 'Allow' },
  { label: 'Equals refuses an extra pair', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:Decrypt', encryptionContext: { dept: 'finance', project: 'x' }, expected: 'Deny' },
  { label: 'Equals refuses an empty context', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:Decrypt', encryptionContext: {}, expected: 'Deny' },
  { label: 'Equals refuses a request that gave no context', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:Decrypt', expected: 'Deny' },
  { label: 'Equals compares keys case-insensitively', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:Decrypt', encryptionContext: { Dept: 'finance' }, expected: 'Allow' },
  { label: 'Equals compares values case-sensitively', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:Decrypt', encryptionContext: { dept: 'Finance' }, expected: 'Deny' },
  { label: 'Subset allows a context with more pairs', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Encrypt'], SUBSET)], caller: P.devSession, action: 'kms:Encrypt', encryptionContext: { dept: 'finance', project: 'x' }, expected: 'Allow' },
  { label: 'Subset refuses a context without the pair', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Encrypt'], SUBSET)], caller: P.devSession, action: 'kms:Encrypt', encryptionContext: { project: 'x' }, expected: 'Deny' },
  { label: 'Subset compares keys case-insensitively', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Encrypt'], SUBSET)], caller: P.devSession, action: 'kms:Encrypt', encryptionContext: { DEPT: 'finance' }, expected: 'Allow' },
  { label: 'Subset refuses another value', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Encrypt'], SUBSET)], caller: P.devSession, action: 'kms:Encrypt', encryptionContext: { dept: 'hr' }, expected: 'Deny' },
  { label: 'Equals and Subset together must both hold', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Encrypt'], { encryptionContextEquals: { dept: 'finance' }, encryptionContextSubset: { dept: 'finance' } })], caller: P.devSession, action: 'kms:Encrypt', encryptionContext: { dept: 'finance' }, expected: 'Allow' },
  { label: 'constraints apply to GenerateDataKey', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['GenerateDataKey'], SUBSET)], caller: P.devSession, action: 'kms:GenerateDataKey', encryptionContext: { dept: 'hr' }, expected: 'Deny' },
  { label: 'constraints apply to GenerateDataKeyWithoutPlaintext', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['GenerateDataKeyWithoutPlaintext'], SUBSET)], caller: P.devSession, action: 'kms:GenerateDataKeyWithoutPlaintext', encryptionContext: { dept: 'finance' }, expected: 'Allow' },
  { label: 'constraints are not applied to DescribeKey', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['DescribeKey', 'Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:DescribeKey', expected: 'Allow' },
  { label: 'constraints are not applied to RetireGrant', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['RetireGrant', 'Decrypt'], EQUALS)], caller: P.devSession, action: 'kms:RetireGrant', expected: 'Allow' },
  { label: 'constraints are not applied to Sign (no encryption context)', key: ONLY_ROOT, grants: [grant(DEV_ROLE_ARN, ['Sign'], EQUALS)], caller: P.devSession, action: 'kms:Sign', expected: 'Allow' },
]);
