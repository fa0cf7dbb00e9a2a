import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/operations/index.js';
import { decodeCiphertext } from '../../src/domain/ciphertext.js';
import { KmsError } from '../../src/domain/errors.js';
import { newKeyId, newKeyVersionId } from '../../src/domain/ids.js';
import { ABANDONED_OPERATION, DEFAULT_ABANDON_KEY_MATERIAL_AFTER_MS } from '../../src/scheduler/key-lifecycle-scheduler.js';
import { ACCOUNT, OUTSIDER, pipelineHarness, type PipelineHarness } from '../support/pipeline-harness.js';
import { listObjectsWithPkcs11Tool } from '../support/softhsm.js';

const DAY = 86_400_000;
let h: PipelineHarness;
beforeAll(async () => {
  h = await pipelineHarness();
});
afterAll(async () => h?.close());

async function newKey(principal?: string): Promise<{ keyId: string; arn: string }> {
  const { keyMetadata } = await h.call(ops.createKey, {}, principal);
  return { keyId: keyMetadata.keyId, arn: keyMetadata.arn };
}

async function rejectsWith(promise: Promise<unknown>, name: string): Promise<KmsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).name).toBe(name);
  return error as KmsError;
}

/** Labels of the token objects of one key, as OpenSC's pkcs11-tool lists them. */
function tokenObjectsOf(keyId: string): string[] {
  return [...listObjectsWithPkcs11Tool(h.token).matchAll(/label:\s+(p11kms:\S+)/g)]
    .map((m) => m[1]!)
    .filter((label) => label.startsWith(`p11kms:${keyId}:`));
}

describe('aliases', () => {
  it('accepts an alias name and alias ARN in every key-taking operation', async () => {
    const key = await newKey();
    const other = await newKey();
    const aliasName = 'alias/orders-key';
    const aliasArn = `arn:aws:kms:us-east-1:${ACCOUNT}:${aliasName}`;
    await h.call(ops.createAlias, { aliasName, targetKeyId: key.keyId });
    for (const ref of [aliasName, aliasArn]) {
      expect((await h.call(ops.describeKey, { keyId: ref })).keyMetadata.keyId).toBe(key.keyId);
      const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: ref, plaintext: Buffer.from('via alias') });
      expect((await h.call(ops.decrypt, { ciphertextBlob, keyId: ref })).plaintext.toString()).toBe('via alias');
      const moved = await h.call(ops.reEncrypt, { ciphertextBlob, sourceKeyId: ref, destinationKeyId: ref });
      expect(moved.keyId).toBe(key.arn);
      expect((await h.call(ops.generateDataKey, { keyId: ref, keySpec: 'AES_128' })).keyId).toBe(key.arn);
      expect((await h.call(ops.generateDataKeyWithoutPlaintext, { keyId: ref, numberOfBytes: 8 })).keyId).toBe(key.arn);
      await h.call(ops.disableKey, { keyId: ref });
      await h.call(ops.enableKey, { keyId: ref });
      await h.call(ops.enableKeyRotation, { keyId: ref, rotationPeriodInDays: 100 });
      expect((await h.call(ops.getKeyRotationStatus, { keyId: ref })).keyRotationEnabled).toBe(true);
      await h.call(ops.disableKeyRotation, { keyId: ref });
      await h.call(ops.rotateKeyOnDemand, { keyId: ref });
      expect((await h.call(ops.listKeyRotations, { keyId: ref })).rotations.length).toBeGreaterThan(0);
      await h.call(ops.updateKeyDescription, { keyId: ref, description: `via ${ref}` });
      await h.call(ops.tagResource, { keyId: ref, tags: [{ tagKey: 'via', tagValue: 'alias' }] });
      expect((await h.call(ops.listResourceTags, { keyId: ref })).tags).toEqual([{ tagKey: 'via', tagValue: 'alias' }]);
      await h.call(ops.untagResource, { keyId: ref, tagKeys: ['via'] });
      await h.call(ops.scheduleKeyDeletion, { keyId: ref, pendingWindowInDays: 7 });
      await h.call(ops.cancelKeyDeletion, { keyId: ref });
      await h.call(ops.enableKey, { keyId: ref });
    }
    expect((await h.call(ops.describeKey, { keyId: key.keyId })).keyMetadata.description).toBe(`via ${aliasArn}`);
    await h.call(ops.updateAlias, { aliasName, targetKeyId: other.arn });
    expect((await h.call(ops.describeKey, { keyId: aliasName })).keyMetadata.keyId).toBe(other.keyId);
    await h.call(ops.deleteAlias, { aliasName });
    await rejectsWith(h.call(ops.describeKey, { keyId: aliasName }), 'NotFoundException');
    expect((await h.call(ops.describeKey, { keyId: other.keyId })).keyMetadata.keyState).toBe('Enabled');
  });

  it.each([
    ['alias/aws/mine', 'NotAuthorizedException'],
    ['alias/has space', 'InvalidAliasNameException'],
    ['orders', 'InvalidAliasNameException'],
    [`alias/${'a'.repeat(257)}`, 'InvalidAliasNameException'],
    ['', 'ValidationException'],
  ])('refuses the alias name %j with %s', async (aliasName, name) => {
    const key = await newKey();
    await rejectsWith(h.call(ops.createAlias, { aliasName, targetKeyId: key.keyId }), name);
  });

  it('refuses duplicates, alias targets, and keeps aliases per account', async () => {
    const key = await newKey();
    await h.call(ops.createAlias, { aliasName: 'alias/dup', targetKeyId: key.keyId });
    await rejectsWith(h.call(ops.createAlias, { aliasName: 'alias/dup', targetKeyId: key.keyId }), 'AlreadyExistsException');
    await rejectsWith(h.call(ops.createAlias, { aliasName: 'alias/x', targetKeyId: 'alias/dup' }), 'ValidationException');
    // The same name in another account is another alias; an outsider cannot reach ours by name.
    const theirs = await newKey(OUTSIDER);
    await h.call(ops.createAlias, { aliasName: 'alias/dup', targetKeyId: theirs.keyId }, OUTSIDER);
    expect((await h.call(ops.describeKey, { keyId: 'alias/dup' }, OUTSIDER)).keyMetadata.keyId).toBe(theirs.keyId);
    expect((await h.call(ops.describeKey, { keyId: 'alias/dup' })).keyMetadata.keyId).toBe(key.keyId);
  });

  it('lists aliases of the account or of one key, page by page', async () => {
    const key = await newKey();
    for (const n of [1, 2, 3]) await h.call(ops.createAlias, { aliasName: `alias/list-${n}`, targetKeyId: key.keyId });
    const ofKey = await h.call(ops.listAliases, { keyId: key.arn });
    expect(ofKey.aliases.map((a: { aliasName: string }) => a.aliasName)).toEqual(['alias/list-1', 'alias/list-2', 'alias/list-3']);
    expect(ofKey.aliases[0]).toMatchObject({ aliasArn: `arn:aws:kms:us-east-1:${ACCOUNT}:alias/list-1`, targetKeyId: key.keyId });
    const first = await h.call(ops.listAliases, { keyId: key.keyId, limit: 2 });
    expect(first.truncated).toBe(true);
    const second = await h.call(ops.listAliases, { keyId: key.keyId, limit: 2, marker: first.nextMarker });
    expect(second.aliases.map((a: { aliasName: string }) => a.aliasName)).toEqual(['alias/list-3']);
    await rejectsWith(h.call(ops.listAliases, { limit: 101 }), 'ValidationException');
  });
});

describe('rotation', () => {
  it('keeps every version: a key rotated three times decrypts ciphertexts from every version', async () => {
    const key = await newKey();
    const sealed: Array<{ blob: Buffer; text: string }> = [];
    for (let version = 0; version < 4; version++) {
      const text = `written under version ${version}`;
      const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from(text), encryptionContext: { v: String(version) } });
      sealed.push({ blob: ciphertextBlob, text });
      if (version < 3) await h.call(ops.rotateKeyOnDemand, { keyId: key.keyId });
    }
    const versionIds = new Set(sealed.map((s) => decodeCiphertext(s.blob).keyVersionId));
    expect(versionIds.size).toBe(4);
    for (const [version, { blob, text }] of sealed.entries()) {
      const opened = await h.call(ops.decrypt, { ciphertextBlob: blob, encryptionContext: { v: String(version) } });
      expect(opened.plaintext.toString()).toBe(text);
    }
    const current = (await h.store.getKey(key.keyId))!.currentVersionId;
    expect(decodeCiphertext(sealed[3]!.blob).keyVersionId).toBe(current);
    const moved = await h.call(ops.reEncrypt, { ciphertextBlob: sealed[0]!.blob, sourceEncryptionContext: { v: '0' }, destinationKeyId: key.keyId });
    expect(decodeCiphertext(moved.ciphertextBlob).keyVersionId).toBe(current);
    const rotations = await h.call(ops.listKeyRotations, { keyId: key.keyId });
    expect(rotations.rotations.map((r: { rotationType: string }) => r.rotationType)).toEqual(['ON_DEMAND', 'ON_DEMAND', 'ON_DEMAND']);
    expect(tokenObjectsOf(key.keyId)).toHaveLength(4);
    for (const versionId of versionIds) {
      expect(await h.hsm.describeKeyObject(versionId)).toMatchObject({ sensitive: true, extractable: false });
    }
  });

  it('allows 25 on-demand rotations and refuses the 26th, leaving no orphan object', async () => {
    const key = await newKey();
    for (let i = 0; i < 25; i++) await h.call(ops.rotateKeyOnDemand, { keyId: key.keyId });
    await rejectsWith(h.call(ops.rotateKeyOnDemand, { keyId: key.keyId }), 'LimitExceededException');
    expect(tokenObjectsOf(key.keyId)).toHaveLength(26);
  });

  it('rotates automatically when the period has passed, through the server scheduler and the clock', async () => {
    const key = await newKey();
    await rejectsWith(h.call(ops.enableKeyRotation, { keyId: key.keyId, rotationPeriodInDays: 89 }), 'ValidationException');
    await rejectsWith(h.call(ops.enableKeyRotation, { keyId: key.keyId, rotationPeriodInDays: 2561 }), 'ValidationException');
    expect((await h.call(ops.getKeyRotationStatus, { keyId: key.keyId })).keyRotationEnabled).toBe(false);
    await h.call(ops.enableKeyRotation, { keyId: key.keyId, rotationPeriodInDays: 90 });
    const status = await h.call(ops.getKeyRotationStatus, { keyId: key.keyId });
    expect(status).toMatchObject({ keyRotationEnabled: true, rotationPeriodInDays: 90, keyId: key.arn });
    expect(status.nextRotationDate.getTime()).toBe(h.clock.now().getTime() + 90 * DAY);

    h.clock.advance(89 * DAY);
    expect((await h.scheduler.runOnce()).rotated).not.toContain(key.keyId);
    h.clock.advance(2 * DAY);
    expect((await h.scheduler.runOnce()).rotated).toContain(key.keyId);
    expect((await h.scheduler.runOnce()).rotated).not.toContain(key.keyId);
    const after = await h.call(ops.getKeyRotationStatus, { keyId: key.keyId });
    expect(after.nextRotationDate.getTime()).toBe(h.clock.now().getTime() + 90 * DAY);
    expect((await h.call(ops.listKeyRotations, { keyId: key.keyId })).rotations).toMatchObject([{ rotationType: 'AUTOMATIC' }]);
    expect(h.audit.events.some((e) => e.operation === 'RotateKey' && e.keyArns.includes(key.arn))).toBe(true);

    await h.call(ops.disableKeyRotation, { keyId: key.keyId });
    h.clock.advance(365 * DAY);
    expect((await h.scheduler.runOnce()).rotated).not.toContain(key.keyId);
    expect(tokenObjectsOf(key.keyId)).toHaveLength(2);
  });
});

describe('scheduled deletion', () => {
  it('keeps the token objects during the window and destroys them, then the metadata and aliases, after it', async () => {
    const key = await newKey();
    await h.call(ops.rotateKeyOnDemand, { keyId: key.keyId });
    await h.call(ops.createAlias, { aliasName: 'alias/doomed', targetKeyId: key.keyId });
    await rejectsWith(h.call(ops.scheduleKeyDeletion, { keyId: key.keyId, pendingWindowInDays: 6 }), 'ValidationException');
    await rejectsWith(h.call(ops.scheduleKeyDeletion, { keyId: key.keyId, pendingWindowInDays: 31 }), 'ValidationException');
    const scheduled = await h.call(ops.scheduleKeyDeletion, { keyId: key.keyId, pendingWindowInDays: 7 });
    expect(scheduled).toMatchObject({ keyId: key.arn, keyState: 'PendingDeletion', pendingWindowInDays: 7 });
    expect(scheduled.deletionDate.getTime()).toBe(h.clock.now().getTime() + 7 * DAY);
    expect((await h.call(ops.describeKey, { keyId: key.keyId })).keyMetadata).toMatchObject({ keyState: 'PendingDeletion', enabled: false });
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }), 'KMSInvalidStateException');

    h.clock.advance(6 * DAY);
    expect((await h.scheduler.runOnce()).deleted).not.toContain(key.keyId);
    expect(tokenObjectsOf(key.keyId)).toHaveLength(2);

    h.clock.advance(1 * DAY + 1);
    expect((await h.scheduler.runOnce()).deleted).toContain(key.keyId);
    expect(tokenObjectsOf(key.keyId)).toEqual([]);
    await rejectsWith(h.call(ops.describeKey, { keyId: key.keyId }), 'NotFoundException');
    await rejectsWith(h.call(ops.describeKey, { keyId: 'alias/doomed' }), 'NotFoundException');
    expect(h.audit.events.some((e) => e.operation === 'DeleteKey' && e.keyArns.includes(key.arn))).toBe(true);
  });

  it('cancels back to Disabled, and is refused for a key not pending deletion', async () => {
    const key = await newKey();
    await rejectsWith(h.call(ops.cancelKeyDeletion, { keyId: key.keyId }), 'KMSInvalidStateException');
    await h.call(ops.scheduleKeyDeletion, { keyId: key.keyId });
    expect((await h.store.getKey(key.keyId))!.deletionDate!.getTime()).toBe(h.clock.now().getTime() + 30 * DAY);
    await h.call(ops.cancelKeyDeletion, { keyId: key.keyId });
    expect((await h.call(ops.describeKey, { keyId: key.keyId })).keyMetadata).toMatchObject({ keyState: 'Disabled', deletionDate: undefined });
  });

  it('finishes on the next run after a crash between destroying the token objects and deleting the metadata', async () => {
    const key = await newKey();
    await h.call(ops.scheduleKeyDeletion, { keyId: key.keyId, pendingWindowInDays: 7 });
    h.clock.advance(8 * DAY);
    h.crashBetweenDeletionSteps = true;
    try {
      expect((await h.scheduler.runOnce()).deleted).not.toContain(key.keyId);
    } finally {
      h.crashBetweenDeletionSteps = false;
    }
    // Half-way: no token objects, metadata still there but unusable and no longer cancellable.
    expect(tokenObjectsOf(key.keyId)).toEqual([]);
    expect((await h.call(ops.describeKey, { keyId: key.keyId })).keyMetadata.keyState).toBe('PendingDeletion');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }), 'KMSInvalidStateException');
    await rejectsWith(h.call(ops.cancelKeyDeletion, { keyId: key.keyId }), 'KMSInvalidStateException');
    expect(h.audit.events.some((e) => e.operation === 'DeleteKey' && e.outcome === 'KMSInternalException')).toBe(true);

    expect((await h.scheduler.runOnce()).deleted).toContain(key.keyId);
    await rejectsWith(h.call(ops.describeKey, { keyId: key.keyId }), 'NotFoundException');
    expect(await h.store.listKeyVersions(key.keyId)).toEqual([]);
  });
});

describe('token objects a crash left without metadata (key material intents)', () => {
  const PAST_ABANDON = DEFAULT_ABANDON_KEY_MATERIAL_AFTER_MS + 1;

  /** Steps 1 and 2 of CreateKey (intent, token object), as a crash before step 3 leaves them. */
  async function crashedCreateKey(): Promise<{ keyId: string; versionId: string }> {
    const keyId = newKeyId();
    const versionId = newKeyVersionId();
    await h.store.recordKeyMaterialIntent({ versionId, keyId, recordedAt: h.clock.now() });
    await h.hsm.generateKey({ versionId, label: `p11kms:${keyId}:${versionId}`, keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' });
    return { keyId, versionId };
  }

  function abandonedEntries(versionId: string) {
    return h.audit.events.filter((e) => e.operation === ABANDONED_OPERATION && e.parameters['keyVersionId'] === versionId);
  }

  it('leaves a young intent alone, then destroys its object once it is stale, and records that once', async () => {
    const crashed = await crashedCreateKey();
    expect((await h.scheduler.runOnce()).abandoned).not.toContain(crashed.versionId);
    expect(tokenObjectsOf(crashed.keyId)).toHaveLength(1);

    h.clock.advance(PAST_ABANDON);
    expect((await h.scheduler.runOnce()).abandoned).toEqual([crashed.versionId]);
    expect(tokenObjectsOf(crashed.keyId)).toEqual([]);
    expect(await h.hsm.describeKeyObject(crashed.versionId)).toBeUndefined();
    expect(abandonedEntries(crashed.versionId)).toMatchObject([
      { outcome: 'Success', keyArns: [], parameters: { keyId: crashed.keyId, background: true } },
    ]);

    expect((await h.scheduler.runOnce()).abandoned).toEqual([]);
    expect(abandonedEntries(crashed.versionId)).toHaveLength(1);
  });

  it('fails a CreateKey paused past the sweep, storing no metadata for the destroyed material', async () => {
    const paused = await crashedCreateKey();
    h.clock.advance(PAST_ABANDON);
    expect((await h.scheduler.runOnce()).abandoned).toEqual([paused.versionId]);

    const now = h.clock.now();
    const resumed = h.store.createKey({
      key: {
        id: paused.keyId,
        arn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${paused.keyId}`,
        account: ACCOUNT,
        keySpec: 'SYMMETRIC_DEFAULT',
        keyUsage: 'ENCRYPT_DECRYPT',
        origin: 'AWS_KMS',
        description: '',
        state: 'Enabled',
        createdAt: now,
        deletionDate: undefined,
        currentVersionId: paused.versionId,
      },
      version: { id: paused.versionId, keyId: paused.keyId, createdAt: now },
      tags: [],
      policy: '{}',
    });
    await rejectsWith(resumed, 'KMSInternalException');
    expect(await h.store.getKey(paused.keyId)).toBeUndefined();
    await rejectsWith(h.call(ops.describeKey, { keyId: paused.keyId }), 'NotFoundException');
  });

  it('destroys the object of a crashed rotation, records it against the key, and the key keeps working', async () => {
    const key = await newKey();
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('before the crash') });
    const versionId = newKeyVersionId();
    await h.store.recordKeyMaterialIntent({ versionId, keyId: key.keyId, recordedAt: h.clock.now() });
    await h.hsm.generateSymmetricKey({ versionId, label: `p11kms:${key.keyId}:${versionId}` });
    expect(tokenObjectsOf(key.keyId)).toHaveLength(2);

    h.clock.advance(PAST_ABANDON);
    expect((await h.scheduler.runOnce()).abandoned).toEqual([versionId]);
    expect(tokenObjectsOf(key.keyId)).toEqual([`p11kms:${key.keyId}:${(await h.store.getKey(key.keyId))!.currentVersionId}`]);
    expect(abandonedEntries(versionId)).toMatchObject([{ outcome: 'Success', keyArns: [key.arn], principalAccount: ACCOUNT }]);
    expect((await h.call(ops.decrypt, { ciphertextBlob })).plaintext.toString()).toBe('before the crash');
  });

  it('leaves no intent behind after CreateKey, rotations, and a rotation the store refused', async () => {
    const key = await newKey();
    for (let i = 0; i < 25; i++) await h.call(ops.rotateKeyOnDemand, { keyId: key.keyId });
    await rejectsWith(h.call(ops.rotateKeyOnDemand, { keyId: key.keyId }), 'LimitExceededException');
    h.clock.advance(PAST_ABANDON);
    expect((await h.scheduler.runOnce()).abandoned).toEqual([]);
    expect(tokenObjectsOf(key.keyId)).toHaveLength(26);
  });
});

describe('descriptions and tags', () => {
  it('updates the description within 8192 characters and clears it with the empty string', async () => {
    const key = await newKey();
    await h.call(ops.updateKeyDescription, { keyId: key.keyId, description: 'd'.repeat(8192) });
    expect((await h.call(ops.describeKey, { keyId: key.keyId })).keyMetadata.description).toHaveLength(8192);
    await rejectsWith(h.call(ops.updateKeyDescription, { keyId: key.keyId, description: 'd'.repeat(8193) }), 'ValidationException');
    await h.call(ops.updateKeyDescription, { keyId: key.keyId, description: '' });
    expect((await h.call(ops.describeKey, { keyId: key.keyId })).keyMetadata.description).toBe('');
  });

  it('tags within the AWS limits, pages the listing, and untags', async () => {
    const key = await newKey();
    const tags = Array.from({ length: 50 }, (_, i) => ({ tagKey: `k${String(i).padStart(2, '0')}`, tagValue: `v${i}` }));
    await h.call(ops.tagResource, { keyId: key.keyId, tags: tags.slice(0, 30) });
    await h.call(ops.tagResource, { keyId: key.keyId, tags: tags.slice(30) });
    await rejectsWith(h.call(ops.tagResource, { keyId: key.keyId, tags: [{ tagKey: 'one-too-many', tagValue: '' }] }), 'TagException');
    await h.call(ops.tagResource, { keyId: key.keyId, tags: [{ tagKey: 'k00', tagValue: 'replaced' }] });
    const seen: Array<{ tagKey: string; tagValue: string }> = [];
    let marker: string | undefined;
    do {
      const page = await h.call(ops.listResourceTags, { keyId: key.keyId, limit: 20, marker });
      seen.push(...page.tags);
      marker = page.nextMarker;
    } while (marker);
    expect(seen).toHaveLength(50);
    expect(seen[0]).toEqual({ tagKey: 'k00', tagValue: 'replaced' });
    await rejectsWith(h.call(ops.listResourceTags, { keyId: key.keyId, marker: 'bogus' }), 'InvalidMarkerException');
    await rejectsWith(h.call(ops.listResourceTags, { keyId: key.keyId, limit: 51 }), 'ValidationException');
    for (const bad of [{ tagKey: 'aws:x', tagValue: '' }, { tagKey: 'k'.repeat(129), tagValue: '' }, { tagKey: 'v', tagValue: 'v'.repeat(257) }]) {
      await rejectsWith(h.call(ops.tagResource, { keyId: key.keyId, tags: [bad] }), 'TagException');
    }
    await h.call(ops.untagResource, { keyId: key.keyId, tagKeys: tags.map((t) => t.tagKey) });
    expect((await h.call(ops.listResourceTags, { keyId: key.keyId })).tags).toEqual([]);
  });
});
