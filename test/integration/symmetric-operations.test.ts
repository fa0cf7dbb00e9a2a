import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/operations/index.js';
import { KmsError } from '../../src/domain/errors.js';
import { ACCOUNT, ADMIN, DEVELOPER, OUTSIDER, pipelineHarness, type PipelineHarness } from '../support/pipeline-harness.js';

let h: PipelineHarness;
beforeAll(async () => {
  h = await pipelineHarness();
});
afterAll(async () => h?.close());

async function newKey(principal = ADMIN): Promise<{ KeyId: string; Arn: string; keyId: string; arn: string }> {
  const { keyMetadata } = await h.call(ops.createKey, { description: 'test key' }, principal);
  return { KeyId: keyMetadata.keyId, Arn: keyMetadata.arn, keyId: keyMetadata.keyId, arn: keyMetadata.arn };
}

/** Asserts that `promise` rejects with a KmsError of the given AWS name. */
async function rejectsWith(promise: Promise<unknown>, name: string): Promise<KmsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).name).toBe(name);
  return error as KmsError;
}

describe('CreateKey and DescribeKey', () => {
  it('creates an enabled SYMMETRIC_DEFAULT key in the caller account whose material is only in the token', async () => {
    const { keyMetadata } = await h.call(ops.createKey, { description: 'orders', tags: [{ tagKey: 'team', tagValue: 'payments' }] });
    expect(keyMetadata).toMatchObject({
      awsAccountId: ACCOUNT,
      enabled: true,
      keyState: 'Enabled',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      origin: 'AWS_KMS',
      keyManager: 'CUSTOMER',
      description: 'orders',
      encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(keyMetadata.arn).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyMetadata.keyId}`);
    const stored = await h.store.getKey(keyMetadata.keyId);
    expect(await h.hsm.describeKeyObject(stored!.currentVersionId)).toMatchObject({ sensitive: true, extractable: false });
    expect(await h.store.listTags(keyMetadata.keyId)).toEqual([{ tagKey: 'team', tagValue: 'payments' }]);
    const described = await h.call(ops.describeKey, { keyId: keyMetadata.arn });
    expect(described.keyMetadata.keyId).toBe(keyMetadata.keyId);
  });

  it.each([
    [{ description: 'x'.repeat(8193) }, 'ValidationException'],
    [{ keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'SIGN_VERIFY' }, 'ValidationException'],
    [{ keySpec: 'HMAC_256' }, 'ValidationException'],
    [{ origin: 'EXTERNAL' }, 'UnsupportedOperationException'],
    [{ tags: [{ tagKey: 'aws:reserved', tagValue: 'x' }] }, 'TagException'],
    [{ tags: Array.from({ length: 51 }, (_, i) => ({ tagKey: `k${i}`, tagValue: 'v' })) }, 'TagException'],
  ])('refuses %j with %s and creates nothing', async (request, name) => {
    const before = (await h.store.listKeys({ account: ACCOUNT, limit: 1000, marker: undefined })).items.length;
    await rejectsWith(h.call(ops.createKey, request), name);
    expect((await h.store.listKeys({ account: ACCOUNT, limit: 1000, marker: undefined })).items.length).toBe(before);
  });

  it('answers NotFoundException for an unknown key id, a malformed id and an unknown alias', async () => {
    await rejectsWith(h.call(ops.describeKey, { keyId: '00000000-0000-4000-8000-000000000000' }), 'NotFoundException');
    await rejectsWith(h.call(ops.describeKey, { keyId: 'not-a-key' }), 'NotFoundException');
    await rejectsWith(h.call(ops.describeKey, { keyId: 'alias/none' }), 'NotFoundException');
    await rejectsWith(h.call(ops.describeKey, {}), 'ValidationException');
  });
});

describe('ListKeys', () => {
  it('pages with Limit and Marker through the caller account only', async () => {
    for (let i = 0; i < 3; i++) await newKey(OUTSIDER);
    const all = new Set<string>();
    let marker: string | undefined;
    do {
      const page = await h.call(ops.listKeys, { limit: 2, marker });
      expect(page.keys.length).toBeLessThanOrEqual(2);
      for (const key of page.keys) all.add(key.keyArn);
      expect(page.truncated).toBe(page.nextMarker !== undefined);
      marker = page.nextMarker;
    } while (marker);
    const expected = (await h.store.listKeys({ account: ACCOUNT, limit: 1000, marker: undefined })).items.map((k) => k.arn);
    expect([...all].sort()).toEqual(expected.sort());
    expect([...all].every((arn) => arn.includes(`:${ACCOUNT}:`))).toBe(true);
  });

  it('refuses a Limit outside 1–1000 and a forged Marker', async () => {
    await rejectsWith(h.call(ops.listKeys, { limit: 0 }), 'ValidationException');
    await rejectsWith(h.call(ops.listKeys, { limit: 1001 }), 'ValidationException');
    await rejectsWith(h.call(ops.listKeys, { marker: 'forged' }), 'InvalidMarkerException');
  });
});

describe('Encrypt and Decrypt', () => {
  it('round-trips up to 4096 bytes with an encryption context, with or without the KeyId', async () => {
    const key = await newKey();
    for (const size of [1, 100, 4096]) {
      const plaintext = Buffer.alloc(size, size % 251);
      const context = { tenant: 'acme', purpose: 'test' };
      const encrypted = await h.call(ops.encrypt, { keyId: key.keyId, plaintext, encryptionContext: context });
      expect(encrypted.keyId).toBe(key.arn);
      expect(encrypted.encryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      const reordered = { purpose: 'test', tenant: 'acme' };
      const decrypted = await h.call(ops.decrypt, { ciphertextBlob: encrypted.ciphertextBlob, encryptionContext: reordered });
      expect(decrypted.plaintext).toEqual(plaintext);
      expect(decrypted.keyId).toBe(key.arn);
      const withKey = await h.call(ops.decrypt, { ciphertextBlob: encrypted.ciphertextBlob, encryptionContext: context, keyId: key.arn });
      expect(withKey.plaintext).toEqual(plaintext);
    }
  });

  it('refuses empty or oversized plaintext and a non-symmetric algorithm with typed errors', async () => {
    const key = await newKey();
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.alloc(4097) }), 'ValidationException');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.alloc(0) }), 'ValidationException');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId }), 'ValidationException');
    await rejectsWith(
      h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
      'InvalidKeyUsageException',
    );
    await rejectsWith(
      h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionContext: { k: 'v'.repeat(9000) } }),
      'ValidationException',
    );
  });

  it('gives IncorrectKeyException when KeyId names another key than the ciphertext', async () => {
    const [a, b] = [await newKey(), await newKey()];
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: a.keyId, plaintext: Buffer.from('secret') });
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob, keyId: b.keyId }), 'IncorrectKeyException');
  });

  it('gives InvalidCiphertextException for a changed byte anywhere, truncation, a wrong context and garbage', async () => {
    const key = await newKey();
    const { ciphertextBlob } = await h.call(ops.encrypt, {
      keyId: key.keyId,
      plaintext: Buffer.from('the eagle has landed'),
      encryptionContext: { a: '1' },
    });
    const blob = ciphertextBlob as Buffer;
    // Bytes 1–32 name the key and version; changing them names a missing key (NotFound) or version.
    for (let i = 33; i < blob.length; i++) {
      const altered = Buffer.from(blob);
      altered[i]! ^= 0x01;
      await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: altered, encryptionContext: { a: '1' } }), 'InvalidCiphertextException');
    }
    const versionChanged = Buffer.from(blob);
    versionChanged[20]! ^= 0x01;
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: versionChanged, encryptionContext: { a: '1' } }), 'InvalidCiphertextException');
    const formatChanged = Buffer.from(blob);
    formatChanged[0] = 2;
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: formatChanged, encryptionContext: { a: '1' } }), 'InvalidCiphertextException');
    for (const length of [0, 1, 33, 60, blob.length - 1]) {
      const name = length === 0 ? 'ValidationException' : 'InvalidCiphertextException';
      await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: blob.subarray(0, length), encryptionContext: { a: '1' } }), name);
    }
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: blob, encryptionContext: { a: '2' } }), 'InvalidCiphertextException');
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: blob }), 'InvalidCiphertextException');
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: Buffer.from('garbage garbage garbage garbage garbage garbage garbage garbage') }), 'InvalidCiphertextException');
    expect(h.logged.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('refuses a disabled key with DisabledException and works again once enabled', async () => {
    const key = await newKey();
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') });
    await h.call(ops.disableKey, { keyId: key.keyId });
    expect((await h.call(ops.describeKey, { keyId: key.keyId })).keyMetadata).toMatchObject({ enabled: false, keyState: 'Disabled' });
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }), 'DisabledException');
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob }), 'DisabledException');
    await rejectsWith(h.call(ops.generateDataKey, { keyId: key.keyId, keySpec: 'AES_256' }), 'DisabledException');
    await h.call(ops.enableKey, { keyId: key.keyId });
    expect((await h.call(ops.decrypt, { ciphertextBlob })).plaintext.toString()).toBe('x');
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key and context without returning plaintext', async () => {
    const [source, destination] = [await newKey(), await newKey()];
    const plaintext = Buffer.from('re-encrypt me');
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: source.keyId, plaintext, encryptionContext: { v: '1' } });
    const moved = await h.call(ops.reEncrypt, {
      ciphertextBlob,
      sourceEncryptionContext: { v: '1' },
      destinationKeyId: destination.arn,
      destinationEncryptionContext: { v: '2' },
    });
    expect(moved).not.toHaveProperty('plaintext');
    expect(moved).toMatchObject({ sourceKeyId: source.arn, keyId: destination.arn });
    const opened = await h.call(ops.decrypt, { ciphertextBlob: moved.ciphertextBlob, encryptionContext: { v: '2' } });
    expect(opened.plaintext).toEqual(plaintext);
    expect(opened.keyId).toBe(destination.arn);
  });

  it('checks SourceKeyId, the source context and the destination key', async () => {
    const [source, other] = [await newKey(), await newKey()];
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: source.keyId, plaintext: Buffer.from('x') });
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob, sourceKeyId: other.keyId, destinationKeyId: other.keyId }), 'IncorrectKeyException');
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob, sourceEncryptionContext: { x: 'y' }, destinationKeyId: other.keyId }), 'InvalidCiphertextException');
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob }), 'ValidationException');
  });
});

describe('GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom', () => {
  it.each([
    [{ keySpec: 'AES_256' }, 32],
    [{ keySpec: 'AES_128' }, 16],
    [{ numberOfBytes: 1 }, 1],
    [{ numberOfBytes: 1024 }, 1024],
  ])('GenerateDataKey %j gives a %i-byte key whose encrypted copy decrypts to it', async (spec, length) => {
    const key = await newKey();
    const dataKey = await h.call(ops.generateDataKey, { keyId: key.keyId, encryptionContext: { f: 'g' }, ...spec });
    expect(dataKey.plaintext).toHaveLength(length);
    const opened = await h.call(ops.decrypt, { ciphertextBlob: dataKey.ciphertextBlob, encryptionContext: { f: 'g' } });
    expect(opened.plaintext).toEqual(dataKey.plaintext);
  });

  it('GenerateDataKeyWithoutPlaintext returns only the encrypted copy, which decrypts to a key of the right size', async () => {
    const key = await newKey();
    const dataKey = await h.call(ops.generateDataKeyWithoutPlaintext, { keyId: key.keyId, keySpec: 'AES_256' });
    expect(dataKey).not.toHaveProperty('plaintext');
    expect((await h.call(ops.decrypt, { ciphertextBlob: dataKey.ciphertextBlob })).plaintext).toHaveLength(32);
  });

  it.each([
    [{}, 'ValidationException'],
    [{ keySpec: 'AES_256', numberOfBytes: 32 }, 'ValidationException'],
    [{ numberOfBytes: 0 }, 'ValidationException'],
    [{ numberOfBytes: 1025 }, 'ValidationException'],
    [{ keySpec: 'AES_512' }, 'ValidationException'],
  ])('GenerateDataKey refuses %j with %s', async (spec, name) => {
    const key = await newKey();
    await rejectsWith(h.call(ops.generateDataKey, { keyId: key.keyId, ...spec }), name);
  });

  it('GenerateRandom gives 1–1024 bytes from the token and refuses anything else', async () => {
    expect((await h.call(ops.generateRandom, { numberOfBytes: 1024 })).plaintext).toHaveLength(1024);
    expect((await h.call(ops.generateRandom, { numberOfBytes: 1 })).plaintext).toHaveLength(1);
    for (const numberOfBytes of [undefined, 0, 1025, 1.5]) {
      await rejectsWith(h.call(ops.generateRandom, { numberOfBytes }), 'ValidationException');
    }
  });
});

describe('authentication, the account boundary and the audit record', () => {
  it('refuses callers without a principal with UnrecognizedClientException, and records them', async () => {
    const before = h.audit.events.length;
    await rejectsWith(h.call(ops.listKeys, {}, ''), 'UnrecognizedClientException');
    await rejectsWith(h.call(ops.listKeys, {}, 'CN=not-an-arn'), 'UnrecognizedClientException');
    expect(h.audit.events.slice(before).map((e) => e.outcome)).toEqual(['UnrecognizedClientException', 'UnrecognizedClientException']);
  });

  it('lets a principal of another account use no key whose policy does not name it', async () => {
    const key = await newKey(ADMIN);
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('mine') }, DEVELOPER);
    const error = await rejectsWith(h.call(ops.decrypt, { ciphertextBlob }, OUTSIDER), 'AccessDeniedException');
    expect(error.message).toBe(`User: ${OUTSIDER} is not authorized to perform: kms:Decrypt on resource: ${key.arn}`);
    await rejectsWith(h.call(ops.describeKey, { keyId: key.arn }, OUTSIDER), 'AccessDeniedException');
    const denial = h.logged.find((l) => l.message === 'access denied');
    expect(denial?.fields).toMatchObject({ principal: OUTSIDER, reason: expect.stringContaining('key policy allows neither the caller nor account') });
  });

  it('records exactly one audit event per request, with no plaintext, before answering', async () => {
    const created = h.audit.events.length;
    const key = await newKey();
    expect(h.audit.events.slice(created)).toMatchObject([{ operation: 'CreateKey', outcome: 'Success', keyArns: [key.arn] }]);
    const before = h.audit.events.length;
    const secret = Buffer.from('top-secret-plaintext-marker');
    const encrypted = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: secret, encryptionContext: { case: 'audit' } });
    await h.call(ops.decrypt, { ciphertextBlob: encrypted.ciphertextBlob, encryptionContext: { case: 'audit' } });
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: encrypted.ciphertextBlob }), 'InvalidCiphertextException');
    const events = h.audit.events.slice(before);
    expect(events.map((e) => [e.operation, e.outcome])).toEqual([
      ['Encrypt', 'Success'],
      ['Decrypt', 'Success'],
      ['Decrypt', 'InvalidCiphertextException'],
    ]);
    expect(events[0]).toMatchObject({
      principalArn: ADMIN,
      keyArns: [key.arn],
      parameters: { encryptionContext: { case: 'audit' } },
      decision: { allowed: true },
    });
    expect(JSON.stringify(events)).not.toContain('top-secret-plaintext-marker');
    expect(JSON.stringify(events)).not.toContain(secret.toString('base64'));
  });

  it('fails closed: when the audit record cannot be written, the request fails and returns no plaintext', async () => {
    const key = await newKey();
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') });
    h.audit.failing = true;
    try {
      await expect(h.call(ops.decrypt, { ciphertextBlob })).rejects.toThrow('ledger unavailable');
      // A result with nothing secret answers with the sink's own promise: it fails the same way.
      await expect(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') })).rejects.toThrow('ledger unavailable');
    } finally {
      h.audit.failing = false;
    }
  });

  it('wipes the plaintext it made when the audit record fails, by rejection or at once', async () => {
    const key = await newKey();
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('wipe me, please') });
    // Decrypt as it is, keeping a reference to the result the pipeline holds.
    const results: Array<{ plaintext: Buffer }> = [];
    const keeping = { ...ops.decrypt, run: async (...args: Parameters<typeof ops.decrypt.run>) => {
      const result = await ops.decrypt.run(...args);
      results.push(result as { plaintext: Buffer });
      return result;
    } } as typeof ops.decrypt;
    for (const mode of ['failing', 'throwing'] as const) {
      h.audit[mode] = true;
      try {
        await expect(h.call(keeping, { ciphertextBlob })).rejects.toThrow(/ledger unavailable/);
      } finally {
        h.audit[mode] = false;
      }
    }
    expect(results).toHaveLength(2);
    for (const { plaintext } of results) {
      expect(plaintext.length).toBe('wipe me, please'.length);
      expect(plaintext.every((byte) => byte === 0)).toBe(true);
    }
    // With the sink back, the same request answers the plaintext, unwiped.
    expect((await h.call(keeping, { ciphertextBlob })).plaintext.toString()).toBe('wipe me, please');
  });

  it('turns an unexpected failure into KMSInternalException carrying only a request id', async () => {
    const key = await newKey();
    const stored = await h.store.getKey(key.keyId);
    await h.hsm.destroyKey(stored!.currentVersionId); // metadata now points at a missing object
    const error = await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }), 'KMSInternalException');
    expect(error.message).toMatch(/^An internal error occurred\. Request id: [0-9a-f-]{36}$/);
    expect(h.logged.some((l) => l.level === 'error' && l.message === 'internal error')).toBe(true);
  });
});
