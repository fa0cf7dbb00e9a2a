import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/operations/index.js';
import { KmsError } from '../../src/domain/errors.js';
import { ACCOUNT, ADMIN, DEVELOPER, OTHER_ACCOUNT, OUTSIDER, pipelineHarness, type PipelineHarness } from '../support/pipeline-harness.js';

const USER1 = `arn:aws:sts::${ACCOUNT}:assumed-role/SSO_ROLE/user1`;
const USER3 = `arn:aws:sts::${ACCOUNT}:assumed-role/SSO_ROLE/user3`;
const AUDITOR = `arn:aws:iam::${ACCOUNT}:role/Auditor`;
const S3 = 's3.amazonaws.com';

/** Identity policies: developers (and the outsider, in its own account) may use KMS; s3 may act for users. */
const IDENTITY = JSON.stringify({
  policies: {
    KmsUse: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
    NoDisable: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kms:DisableKey', Resource: '*' }] },
  },
  attachments: { [DEVELOPER]: ['KmsUse', 'NoDisable'], [OUTSIDER]: ['KmsUse'] },
  onBehalfOf: [S3],
});

let h: PipelineHarness;
beforeAll(async () => {
  h = await pipelineHarness(IDENTITY);
});
afterAll(async () => h?.close());

async function rejectsWith(promise: Promise<unknown>, name: string): Promise<KmsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).name).toBe(name);
  return error as KmsError;
}

const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const rootStatement = { Sid: 'Root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' };

async function keyWith(policyText?: string): Promise<{ keyId: string; arn: string }> {
  const { keyMetadata } = await h.call(ops.createKey, policyText ? { policy: policyText } : {});
  return { keyId: keyMetadata.keyId, arn: keyMetadata.arn };
}

describe('key policies', () => {
  it('gives a new key the AWS default policy, which delegates to identity policies', async () => {
    const key = await keyWith();
    const { policy: text, policyName } = await h.call(ops.getKeyPolicy, { keyId: key.keyId });
    expect(policyName).toBe('default');
    expect(JSON.parse(text).Statement[0]).toMatchObject({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*' });
    expect((await h.call(ops.listKeyPolicies, { keyId: key.keyId })).policyNames).toEqual(['default']);
    // DeveloperRole is allowed by its identity policy; its explicit Deny on DisableKey wins.
    await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }, DEVELOPER);
    await rejectsWith(h.call(ops.disableKey, { keyId: key.keyId }, DEVELOPER), 'AccessDeniedException');
    // An auditor role with no identity policy gets nothing from a policy that only names the account.
    await rejectsWith(h.call(ops.describeKey, { keyId: key.keyId }, AUDITOR), 'AccessDeniedException');
    await rejectsWith(h.call(ops.listKeys, {}, AUDITOR), 'AccessDeniedException');
  });

  it('stores a policy byte for byte and evaluates its conditions', async () => {
    const text = `{\n  "Version": "2012-10-17",\n  "Statement": [ ${JSON.stringify(rootStatement)},\n    {"Sid": "AuditorReadsTaggedContext", "Effect": "Allow", "Principal": {"AWS": "${AUDITOR}"},
      "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*",
      "Condition": {"StringEquals": {"kms:EncryptionContext:dept": "audit"}, "Bool": {"aws:SecureTransport": "true"}}} ]\n}`;
    const key = await keyWith(text);
    expect((await h.call(ops.getKeyPolicy, { keyId: key.keyId })).policy).toBe(text);
    const sealed = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionContext: { dept: 'audit' } }, AUDITOR);
    await h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { dept: 'audit' } }, AUDITOR);
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionContext: { dept: 'sales' } }, AUDITOR), 'AccessDeniedException');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }, AUDITOR), 'AccessDeniedException');
  });

  it('refuses malformed and oversized policies, naming what is wrong', async () => {
    const error = await rejectsWith(h.call(ops.createKey, { policy: policy({ ...rootStatement, Effect: 'Perhaps' }) }), 'MalformedPolicyDocumentException');
    expect(error.message).toMatch(/Effect/);
    await rejectsWith(h.call(ops.createKey, { policy: '{"Version": "2012-10-17", "Statement": ' }), 'MalformedPolicyDocumentException');
    const big = policy(rootStatement, { Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:Encrypt', Resource: '*', Sid: 'x'.repeat(33 * 1024) });
    await rejectsWith(h.call(ops.createKey, { policy: big }), 'MalformedPolicyDocumentException');
  });

  it('applies the lockout safety check to PutKeyPolicy and CreateKey unless bypassed', async () => {
    const key = await keyWith();
    const lockout = policy({ Effect: 'Allow', Principal: { AWS: AUDITOR }, Action: 'kms:*', Resource: '*' });
    await rejectsWith(h.call(ops.putKeyPolicy, { keyId: key.keyId, policy: lockout }), 'MalformedPolicyDocumentException');
    await rejectsWith(h.call(ops.createKey, { policy: lockout }), 'MalformedPolicyDocumentException');
    await h.call(ops.putKeyPolicy, { keyId: key.keyId, policy: lockout, bypassPolicyLockoutSafetyCheck: true });
    await rejectsWith(h.call(ops.describeKey, { keyId: key.keyId }), 'AccessDeniedException');
    await rejectsWith(h.call(ops.putKeyPolicy, { keyId: key.keyId, policy: policy(rootStatement) }), 'AccessDeniedException');
    await h.call(ops.describeKey, { keyId: key.keyId }, AUDITOR);
  });
});

describe('accounts', () => {
  it('needs the key policy of the key account and the caller identity policy for cross-account use', async () => {
    const shared = await keyWith(policy(rootStatement, {
      Sid: 'OtherAccountUses',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${OTHER_ACCOUNT}:root` },
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey', 'kms:ScheduleKeyDeletion'],
      Resource: '*',
    }));
    const private_ = await keyWith();
    await h.call(ops.encrypt, { keyId: shared.arn, plaintext: Buffer.from('x') }, OUTSIDER);
    await rejectsWith(h.call(ops.encrypt, { keyId: private_.arn, plaintext: Buffer.from('x') }, OUTSIDER), 'AccessDeniedException');
    // ScheduleKeyDeletion is never a cross-account operation, whatever the key policy says.
    await rejectsWith(h.call(ops.scheduleKeyDeletion, { keyId: shared.arn }, OUTSIDER), 'AccessDeniedException');
    // Another principal of that account without an identity policy cannot use it either.
    await rejectsWith(h.call(ops.encrypt, { keyId: shared.arn, plaintext: Buffer.from('x') }, `arn:aws:iam::${OTHER_ACCOUNT}:role/NoPolicy`), 'AccessDeniedException');
  });
});

describe('service principals and on-behalf-of', () => {
  it('lets a trusted service act for a user, with kms:ViaService, and refuses untrusted ones', async () => {
    const key = await keyWith(policy(rootStatement, {
      Sid: 'OnlyViaS3', Effect: 'Allow', Principal: { AWS: AUDITOR }, Action: 'kms:Encrypt', Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
    }));
    await rejectsWith(h.call(ops.encrypt, { keyId: key.arn, plaintext: Buffer.from('x') }, AUDITOR), 'AccessDeniedException');
    const before = h.audit.events.length;
    await h.call(ops.encrypt, { keyId: key.arn, plaintext: Buffer.from('x') }, S3, AUDITOR);
    expect(h.audit.events[before]).toMatchObject({ principalArn: AUDITOR, parameters: { viaService: 's3.us-east-1.amazonaws.com' } });
    await rejectsWith(h.call(ops.encrypt, { keyId: key.arn, plaintext: Buffer.from('x') }, 'dynamodb.amazonaws.com', AUDITOR), 'AccessDeniedException');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.arn, plaintext: Buffer.from('x') }, DEVELOPER, AUDITOR), 'AccessDeniedException');
  });
});

describe('grants', () => {
  it('allows the grantee its operations under the constraints, at once, until retired', async () => {
    const key = await keyWith();
    const sealed = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('for user3'), encryptionContext: { app: 'billing' } });
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { app: 'billing' } }, USER3), 'AccessDeniedException');
    const grant = await h.call(ops.createGrant, {
      keyId: key.keyId,
      granteePrincipal: USER3,
      retiringPrincipal: USER1,
      operations: ['Decrypt'],
      constraints: { encryptionContextEquals: { app: 'billing' } },
      name: 'billing-reader',
    });
    expect(grant.grantId).toMatch(/^[0-9a-f]{64}$/);
    const opened = await h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { app: 'billing' }, grantTokens: [grant.grantToken] }, USER3);
    expect(opened.plaintext.toString()).toBe('for user3');
    const other = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionContext: { app: 'hr' } });
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: other.ciphertextBlob, encryptionContext: { app: 'hr' } }, USER3), 'AccessDeniedException');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionContext: { app: 'billing' } }, USER3), 'AccessDeniedException');
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { app: 'billing' }, grantTokens: ['not-a-token'] }, USER3), 'InvalidGrantTokenException');
    // An empty token is a token, and checked; an empty list checks nothing; more than 10 are refused.
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { app: 'billing' }, grantTokens: [''] }, USER3), 'InvalidGrantTokenException');
    const untokened = await h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { app: 'billing' }, grantTokens: [] }, USER3);
    expect(untokened.plaintext.toString()).toBe('for user3');
    const eleven = Array.from({ length: 11 }, () => grant.grantToken);
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { app: 'billing' }, grantTokens: eleven }, USER3), 'ValidationException');

    // Idempotent by name; listed; retired by its retiring principal without any policy allowing it.
    const again = await h.call(ops.createGrant, { keyId: key.keyId, granteePrincipal: USER3, retiringPrincipal: USER1, operations: ['Decrypt'], constraints: { encryptionContextEquals: { app: 'billing' } }, name: 'billing-reader' });
    expect(again.grantId).toBe(grant.grantId);
    const listed = await h.call(ops.listGrants, { keyId: key.keyId });
    expect(listed.grants).toHaveLength(1);
    expect(listed.grants[0]).toMatchObject({ grantId: grant.grantId, granteePrincipal: USER3, operations: ['Decrypt'], issuingAccount: `arn:aws:iam::${ACCOUNT}:root` });
    expect((await h.call(ops.listRetirableGrants, { retiringPrincipal: USER1 })).grants.map((g: { grantId: string }) => g.grantId)).toContain(grant.grantId);
    await rejectsWith(h.call(ops.retireGrant, { grantToken: grant.grantToken }, AUDITOR), 'AccessDeniedException');
    await h.call(ops.retireGrant, { grantToken: grant.grantToken }, USER1);
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: sealed.ciphertextBlob, encryptionContext: { app: 'billing' } }, USER3), 'AccessDeniedException');
  });

  it('validates grants as AWS does and lets an administrator revoke them', async () => {
    const key = await keyWith();
    await rejectsWith(h.call(ops.createGrant, { keyId: key.keyId, granteePrincipal: 'nobody', operations: ['Decrypt'] }), 'ValidationException');
    await rejectsWith(h.call(ops.createGrant, { keyId: key.keyId, granteePrincipal: USER3, operations: [] }), 'ValidationException');
    await rejectsWith(h.call(ops.createGrant, { keyId: key.keyId, granteePrincipal: USER3, operations: ['Sign'] }), 'ValidationException');
    await rejectsWith(h.call(ops.createGrant, { keyId: key.keyId, granteePrincipal: USER3, operations: ['Decrypt'], constraints: { encryptionContextEquals: { a: '1' }, encryptionContextSubset: { b: '2' } } }), 'ValidationException');
    const { grantId } = await h.call(ops.createGrant, { keyId: key.keyId, granteePrincipal: USER3, operations: ['Encrypt'] });
    await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }, USER3);
    await h.call(ops.revokeGrant, { keyId: key.keyId, grantId });
    await rejectsWith(h.call(ops.revokeGrant, { keyId: key.keyId, grantId }), 'NotFoundException');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }, USER3), 'AccessDeniedException');
  });
});

describe('the explanation', () => {
  it('records what decided every request in the audit event and the server log, never in the answer', async () => {
    const key = await keyWith();
    const before = h.audit.events.length;
    const error = await rejectsWith(h.call(ops.disableKey, { keyId: key.keyId }, DEVELOPER), 'AccessDeniedException');
    expect(error.message).toBe(`User: ${DEVELOPER} is not authorized to perform: kms:DisableKey on resource: ${key.arn}`);
    await h.call(ops.describeKey, { keyId: key.keyId }, DEVELOPER);
    const [denied, allowed] = h.audit.events.slice(before);
    expect(denied!).toMatchObject({ outcome: 'AccessDeniedException', decision: { allowed: false, reason: expect.stringContaining('NoDisable') } });
    expect(allowed!.decision).toMatchObject({ allowed: true, reason: expect.stringContaining('identity policy') });
    const logged = h.logged.filter((l) => l.message === 'access denied').at(-1);
    expect(logged?.fields).toMatchObject({ principal: DEVELOPER, action: 'kms:DisableKey', reason: expect.stringContaining('NoDisable') });
  });
});
