import { execFileSync } from 'node:child_process';
import {
  constants,
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenCapabilities } from '../../src/adapters/pkcs11/mechanisms.js';
import { PROFILES } from '../../src/adapters/pkcs11/vendor-profiles.js';
import { KmsError } from '../../src/domain/errors.js';
import * as ops from '../../src/operations/index.js';
import { DEVELOPER, pipelineHarness, type PipelineHarness } from '../support/pipeline-harness.js';
import { listObjectsWithPkcs11Tool } from '../support/softhsm.js';

let h: PipelineHarness;
beforeAll(async () => {
  h = await pipelineHarness();
}, 60_000);
afterAll(async () => h?.close());

async function rejectsWith(promise: Promise<unknown>, name: string): Promise<KmsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KmsError);
  expect((error as KmsError).name).toBe(name);
  return error as KmsError;
}

const keys = new Map<string, { keyId: string; arn: string }>();
/** One key per spec and usage, made once: RSA_4096 generation alone takes seconds. */
async function keyOf(keySpec: string, keyUsage: string): Promise<{ keyId: string; arn: string }> {
  const name = `${keySpec}/${keyUsage}`;
  if (!keys.has(name)) {
    const { keyMetadata } = await h.call(ops.createKey, { keySpec, keyUsage });
    keys.set(name, { keyId: keyMetadata.keyId, arn: keyMetadata.arn });
  }
  return keys.get(name)!;
}

async function publicKeyOf(keyId: string): Promise<KeyObject> {
  const { publicKey } = await h.call(ops.getPublicKey, { keyId });
  return createPublicKey({ key: publicKey, format: 'der', type: 'spki' });
}

function flipBit(bytes: Buffer, index = bytes.length - 1): Buffer {
  const copy = Buffer.from(bytes);
  copy[index]! ^= 0x01;
  return copy;
}

/**
 * The independent check of each signing algorithm, written from the AWS KMS algorithm descriptions:
 * node:crypto (OpenSSL) verifies with the public key GetPublicKey returned.
 */
const INDEPENDENT_VERIFY: Record<string, (message: Buffer, key: KeyObject, signature: Buffer) => boolean> = {
  RSASSA_PSS_SHA_256: (m, key, s) => nodeVerify('sha256', m, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, s),
  RSASSA_PSS_SHA_384: (m, key, s) => nodeVerify('sha384', m, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, s),
  RSASSA_PSS_SHA_512: (m, key, s) => nodeVerify('sha512', m, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, s),
  RSASSA_PKCS1_V1_5_SHA_256: (m, key, s) => nodeVerify('sha256', m, key, s),
  RSASSA_PKCS1_V1_5_SHA_384: (m, key, s) => nodeVerify('sha384', m, key, s),
  RSASSA_PKCS1_V1_5_SHA_512: (m, key, s) => nodeVerify('sha512', m, key, s),
  ECDSA_SHA_256: (m, key, s) => nodeVerify('sha256', m, { key, dsaEncoding: 'der' }, s),
  ECDSA_SHA_384: (m, key, s) => nodeVerify('sha384', m, { key, dsaEncoding: 'der' }, s),
  ECDSA_SHA_512: (m, key, s) => nodeVerify('sha512', m, { key, dsaEncoding: 'der' }, s),
  ED25519_SHA_512: (m, key, s) => nodeVerify(null, m, key, s),
};
const HASH: Record<string, string | undefined> = {
  RSASSA_PSS_SHA_256: 'sha256', RSASSA_PSS_SHA_384: 'sha384', RSASSA_PSS_SHA_512: 'sha512',
  RSASSA_PKCS1_V1_5_SHA_256: 'sha256', RSASSA_PKCS1_V1_5_SHA_384: 'sha384', RSASSA_PKCS1_V1_5_SHA_512: 'sha512',
  ECDSA_SHA_256: 'sha256', ECDSA_SHA_384: 'sha384', ECDSA_SHA_512: 'sha512', ED25519_SHA_512: undefined,
};

const RSA_SIGNING = Object.keys(HASH).filter((a) => a.startsWith('RSASSA'));
/** key spec × algorithm × message type, with the outcome this token gives (SoftHSM2 2.6.1). */
const SIGNING_CELLS: Array<[string, string, 'RAW' | 'DIGEST', 'ok' | string]> = [
  ...['RSA_2048', 'RSA_3072', 'RSA_4096'].flatMap((spec) =>
    RSA_SIGNING.flatMap((alg) => (['RAW', 'DIGEST'] as const).map((type) => [spec, alg, type, 'ok'] as [string, string, 'RAW' | 'DIGEST', string])),
  ),
  ...([
    ['ECC_NIST_P256', 'ECDSA_SHA_256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384'],
    ['ECC_NIST_P521', 'ECDSA_SHA_512'],
    ['ECC_SECG_P256K1', 'ECDSA_SHA_256'],
  ] as const).flatMap(([spec, alg]) => (['RAW', 'DIGEST'] as const).map((type) => [spec, alg, type, 'ok'] as [string, string, 'RAW' | 'DIGEST', string])),
  ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', 'RAW', 'ok'],
  ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', 'DIGEST', 'ValidationException'],
  // Algorithms of another spec: not compatible with the key.
  ['ECC_NIST_P256', 'ECDSA_SHA_384', 'RAW', 'InvalidKeyUsageException'],
  ['RSA_2048', 'ECDSA_SHA_256', 'RAW', 'InvalidKeyUsageException'],
  ['ECC_NIST_P256', 'RSASSA_PSS_SHA_256', 'RAW', 'InvalidKeyUsageException'],
];

describe('Sign and Verify: key spec × algorithm × message type on the token', () => {
  it.each(SIGNING_CELLS)('%s %s %s: %s', async (spec, algorithm, messageType, expected) => {
    const key = await keyOf(spec, 'SIGN_VERIFY');
    const message = Buffer.from(`message for ${spec} ${algorithm}`);
    const hash = HASH[algorithm];
    const input = messageType === 'DIGEST' && hash ? createHash(hash).update(message).digest() : message;
    const request = { keyId: key.keyId, message: messageType === 'DIGEST' && !hash ? createHash('sha512').update(message).digest() : input, messageType, signingAlgorithm: algorithm };
    if (expected !== 'ok') {
      await rejectsWith(h.call(ops.sign, request), expected);
      return;
    }
    const { signature, keyId, signingAlgorithm } = await h.call(ops.sign, request);
    expect(keyId).toBe(key.arn);
    expect(signingAlgorithm).toBe(algorithm);
    // OpenSSL (node:crypto) checks the signature over the original message, with GetPublicKey's key.
    expect(INDEPENDENT_VERIFY[algorithm]!(message, await publicKeyOf(key.keyId), signature)).toBe(true);
    expect(await h.call(ops.verify, { ...request, signature })).toEqual({ keyId: key.arn, signatureValid: true, signingAlgorithm: algorithm });
    await rejectsWith(h.call(ops.verify, { ...request, signature: flipBit(signature) }), 'KMSInvalidSignatureException');
    await rejectsWith(h.call(ops.verify, { ...request, message: flipBit(request.message, 0), signature }), 'KMSInvalidSignatureException');
  }, 60_000);

  it('checks what a signature request must hold before any token call', async () => {
    const key = await keyOf('ECC_NIST_P256', 'SIGN_VERIFY');
    const base = { keyId: key.keyId, message: Buffer.from('m'), signingAlgorithm: 'ECDSA_SHA_256' };
    await rejectsWith(h.call(ops.sign, { ...base, message: Buffer.alloc(4097) }), 'ValidationException');
    await rejectsWith(h.call(ops.sign, { ...base, message: Buffer.alloc(0) }), 'ValidationException');
    await rejectsWith(h.call(ops.sign, { ...base, signingAlgorithm: undefined }), 'ValidationException');
    await rejectsWith(h.call(ops.sign, { ...base, messageType: 'DIGEST', message: Buffer.alloc(31) }), 'ValidationException');
    expect((await h.call(ops.sign, { ...base, message: Buffer.alloc(4096) })).signature.length).toBeGreaterThan(60);
    await rejectsWith(h.call(ops.verify, { ...base, signature: Buffer.from('not der') }), 'KMSInvalidSignatureException');
    const symmetric = (await h.call(ops.createKey, {})).keyMetadata;
    await rejectsWith(h.call(ops.sign, { ...base, keyId: symmetric.keyId }), 'InvalidKeyUsageException');
  });

  it('verifies with the openssl command too (p11kms signs, OpenSSL verifies)', async () => {
    const key = await keyOf('ECC_NIST_P384', 'SIGN_VERIFY');
    const message = Buffer.from('checked by openssl dgst');
    const { signature } = await h.call(ops.sign, { keyId: key.keyId, message, signingAlgorithm: 'ECDSA_SHA_384' });
    const { publicKey } = await h.call(ops.getPublicKey, { keyId: key.keyId });
    writeFileSync(join(h.token.dir, 'msg'), message);
    writeFileSync(join(h.token.dir, 'sig'), signature);
    writeFileSync(join(h.token.dir, 'pub.der'), publicKey);
    const out = execFileSync('openssl', ['dgst', '-sha384', '-verify', join(h.token.dir, 'pub.der'), '-keyform', 'DER', '-signature', join(h.token.dir, 'sig'), join(h.token.dir, 'msg')], { encoding: 'utf8' });
    expect(out.trim()).toBe('Verified OK');
  });
});

describe('GetPublicKey and DescribeKey', () => {
  it.each([
    ['RSA_2048', 'ENCRYPT_DECRYPT', 'rsa', { encryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'], signingAlgorithms: [] }],
    ['RSA_3072', 'SIGN_VERIFY', 'rsa', { encryptionAlgorithms: [], signingAlgorithms: RSA_SIGNING }],
    ['ECC_NIST_P521', 'SIGN_VERIFY', 'ec', { signingAlgorithms: ['ECDSA_SHA_512'], keyAgreementAlgorithms: [] }],
    ['ECC_SECG_P256K1', 'KEY_AGREEMENT', 'ec', { signingAlgorithms: [], keyAgreementAlgorithms: ['ECDH'] }],
    ['ECC_NIST_EDWARDS25519', 'SIGN_VERIFY', 'ed25519', { signingAlgorithms: ['ED25519_SHA_512'] }],
  ])('%s %s: a DER SubjectPublicKeyInfo and the algorithms the token runs', async (keySpec, keyUsage, type, algorithms) => {
    const key = await keyOf(keySpec, keyUsage);
    const response = await h.call(ops.getPublicKey, { keyId: key.keyId });
    expect(response).toMatchObject({ keyId: key.arn, keySpec, customerMasterKeySpec: keySpec, keyUsage, ...algorithms });
    expect(createPublicKey({ key: response.publicKey, format: 'der', type: 'spki' }).asymmetricKeyType).toBe(type);
    const { keyMetadata } = await h.call(ops.describeKey, { keyId: key.keyId });
    expect(keyMetadata).toMatchObject({ keySpec, customerMasterKeySpec: keySpec, keyUsage, macAlgorithms: [], ...algorithms });
  });

  it('takes the key spec under its deprecated name CustomerMasterKeySpec too, as AWS KMS still does', async () => {
    const { keyMetadata } = await h.call(ops.createKey, { customerMasterKeySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
    expect(keyMetadata).toMatchObject({ keySpec: 'ECC_NIST_P256', customerMasterKeySpec: 'ECC_NIST_P256', signingAlgorithms: ['ECDSA_SHA_256'] });
    const same = await h.call(ops.createKey, { keySpec: 'HMAC_256', customerMasterKeySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    expect(same.keyMetadata).toMatchObject({ keySpec: 'HMAC_256', customerMasterKeySpec: 'HMAC_256' });
    const keysBefore = (await h.call(ops.listKeys, { limit: 1000 })).keys.length;
    const both = { keySpec: 'RSA_2048', customerMasterKeySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' };
    const conflict = await rejectsWith(h.call(ops.createKey, both), 'ValidationException');
    expect(conflict.message).toContain('CustomerMasterKeySpec');
    await rejectsWith(h.call(ops.createKey, { customerMasterKeySpec: 'AES_512' }), 'ValidationException');
    expect((await h.call(ops.listKeys, { limit: 1000 })).keys).toHaveLength(keysBefore);
  });

  it('refuses GetPublicKey for symmetric and HMAC keys with UnsupportedOperationException', async () => {
    const symmetric = (await h.call(ops.createKey, {})).keyMetadata;
    await rejectsWith(h.call(ops.getPublicKey, { keyId: symmetric.keyId }), 'UnsupportedOperationException');
    const hmac = await keyOf('HMAC_256', 'GENERATE_VERIFY_MAC');
    await rejectsWith(h.call(ops.getPublicKey, { keyId: hmac.keyId }), 'UnsupportedOperationException');
  });
});

describe('RSA encryption (RSAES-OAEP)', () => {
  it.each([
    ['RSA_2048', 'RSAES_OAEP_SHA_1', 'sha1', 256, 214],
    ['RSA_2048', 'RSAES_OAEP_SHA_256', 'sha256', 256, 190],
    ['RSA_3072', 'RSAES_OAEP_SHA_1', 'sha1', 384, 342],
    ['RSA_3072', 'RSAES_OAEP_SHA_256', 'sha256', 384, 318],
    ['RSA_4096', 'RSAES_OAEP_SHA_1', 'sha1', 512, 470],
    ['RSA_4096', 'RSAES_OAEP_SHA_256', 'sha256', 512, 446],
  ])('%s %s: OpenSSL encrypts with the public key, p11kms decrypts; limits as AWS', async (spec, algorithm, oaepHash, k, limit) => {
    const key = await keyOf(spec, 'ENCRYPT_DECRYPT');
    const publicKey = await publicKeyOf(key.keyId);
    const plaintext = Buffer.alloc(limit, 0x5a);
    const ciphertextBlob = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, plaintext);
    const decrypted = await h.call(ops.decrypt, { keyId: key.keyId, ciphertextBlob, encryptionAlgorithm: algorithm });
    expect(decrypted).toEqual({ keyId: key.arn, plaintext, encryptionAlgorithm: algorithm });

    const sealed = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('to the token'), encryptionAlgorithm: algorithm });
    expect(sealed.ciphertextBlob.length).toBe(k);
    const opened = await h.call(ops.decrypt, { keyId: key.arn, ciphertextBlob: sealed.ciphertextBlob, encryptionAlgorithm: algorithm });
    expect(opened.plaintext.toString()).toBe('to the token');

    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.alloc(limit + 1), encryptionAlgorithm: algorithm }), 'ValidationException');
    await rejectsWith(h.call(ops.decrypt, { keyId: key.keyId, ciphertextBlob: flipBit(ciphertextBlob, 10), encryptionAlgorithm: algorithm }), 'InvalidCiphertextException');
    const other = algorithm === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
    await rejectsWith(h.call(ops.decrypt, { keyId: key.keyId, ciphertextBlob, encryptionAlgorithm: other }), 'InvalidCiphertextException');
  }, 60_000);

  it('decrypts what the openssl command encrypts with the public key (OAEP SHA-256)', async () => {
    const key = await keyOf('RSA_2048', 'ENCRYPT_DECRYPT');
    const { publicKey } = await h.call(ops.getPublicKey, { keyId: key.keyId });
    const pub = join(h.token.dir, 'rsa-pub.der');
    const input = join(h.token.dir, 'oaep-plain');
    writeFileSync(pub, publicKey);
    writeFileSync(input, 'encrypted by openssl pkeyutl');
    const ciphertextBlob = execFileSync('openssl', [
      'pkeyutl', '-encrypt', '-pubin', '-keyform', 'DER', '-inkey', pub, '-in', input,
      '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256',
    ]);
    const { plaintext } = await h.call(ops.decrypt, { keyId: key.keyId, ciphertextBlob, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(plaintext.toString()).toBe('encrypted by openssl pkeyutl');
  });

  it('needs KeyId and an RSA algorithm, and takes no encryption context, as AWS', async () => {
    const key = await keyOf('RSA_2048', 'ENCRYPT_DECRYPT');
    const { ciphertextBlob } = await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob, encryptionAlgorithm: 'RSAES_OAEP_SHA_1' }), 'ValidationException');
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob, keyId: key.keyId }), 'InvalidCiphertextException');
    await rejectsWith(h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') }), 'InvalidKeyUsageException');
    await rejectsWith(
      h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_1', encryptionContext: { a: 'b' } }),
      'ValidationException',
    );
    await rejectsWith(h.call(ops.generateDataKey, { keyId: key.keyId, keySpec: 'AES_256' }), 'InvalidKeyUsageException');
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: Buffer.alloc(256, 1), keyId: key.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }), 'InvalidCiphertextException');
    await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: Buffer.alloc(100, 1), keyId: key.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }), 'InvalidCiphertextException');
  });
});

describe('ReEncrypt with RSA keys on either side (RSAES-OAEP), as AWS', () => {
  it('moves a symmetric ciphertext under an RSA key, an RSA one under a symmetric key, and between RSA keys', async () => {
    const rsa2048 = await keyOf('RSA_2048', 'ENCRYPT_DECRYPT');
    const rsa3072 = await keyOf('RSA_3072', 'ENCRYPT_DECRYPT');
    const { keyMetadata: symmetric } = await h.call(ops.createKey, {});
    const plaintext = Buffer.from('moved between kinds of keys');

    // Symmetric → RSA: the result is a plain OAEP ciphertext that Decrypt opens with the RSA key.
    const sealed = await h.call(ops.encrypt, { keyId: symmetric.keyId, plaintext, encryptionContext: { v: '1' } });
    const toRsa = await h.call(ops.reEncrypt, {
      ciphertextBlob: sealed.ciphertextBlob, sourceEncryptionContext: { v: '1' },
      destinationKeyId: rsa2048.keyId, destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(toRsa).toEqual({
      ciphertextBlob: expect.any(Buffer), sourceKeyId: symmetric.arn, keyId: rsa2048.arn,
      sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(toRsa.ciphertextBlob.length).toBe(256);
    const openedRsa = await h.call(ops.decrypt, { keyId: rsa2048.keyId, ciphertextBlob: toRsa.ciphertextBlob, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(openedRsa.plaintext).toEqual(plaintext);

    // RSA (encrypted by OpenSSL with the public key) → symmetric, with a new context.
    const fromOpenSsl = publicEncrypt({ key: await publicKeyOf(rsa2048.keyId), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plaintext);
    const toSymmetric = await h.call(ops.reEncrypt, {
      ciphertextBlob: fromOpenSsl, sourceKeyId: rsa2048.arn, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      destinationKeyId: symmetric.keyId, destinationEncryptionContext: { v: '2' },
    });
    expect(toSymmetric).toMatchObject({ sourceKeyId: rsa2048.arn, keyId: symmetric.arn, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const opened = await h.call(ops.decrypt, { ciphertextBlob: toSymmetric.ciphertextBlob, encryptionContext: { v: '2' } });
    expect(opened).toMatchObject({ keyId: symmetric.arn, plaintext });

    // RSA → RSA, another key and another algorithm.
    const between = await h.call(ops.reEncrypt, {
      ciphertextBlob: toRsa.ciphertextBlob, sourceKeyId: rsa2048.keyId, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      destinationKeyId: rsa3072.keyId, destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    });
    expect(between.ciphertextBlob.length).toBe(384);
    const opened3072 = await h.call(ops.decrypt, { keyId: rsa3072.keyId, ciphertextBlob: between.ciphertextBlob, encryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    expect(opened3072.plaintext).toEqual(plaintext);

    // The ledger's parameters name both algorithms, as CloudTrail's requestParameters do.
    const event = h.audit.events.filter((e) => e.operation === 'ReEncrypt' && e.outcome === 'Success').at(-1);
    expect(event?.parameters).toMatchObject({ sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
  }, 60_000);

  it('refuses what AWS refuses, with the same error names, and answers no plaintext', async () => {
    const rsa = await keyOf('RSA_2048', 'ENCRYPT_DECRYPT');
    const { keyMetadata: symmetric } = await h.call(ops.createKey, {});
    const rsaCiphertext = (await h.call(ops.encrypt, { keyId: rsa.keyId, plaintext: Buffer.from('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' })).ciphertextBlob;
    const symmetricCiphertext = (await h.call(ops.encrypt, { keyId: symmetric.keyId, plaintext: Buffer.from('x') })).ciphertextBlob;
    const toSymmetric = { destinationKeyId: symmetric.keyId };

    // An RSA ciphertext names no key: SourceKeyId is required, and it must be the key that made it.
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: rsaCiphertext, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', ...toSymmetric }), 'ValidationException');
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: rsaCiphertext, sourceKeyId: rsa.keyId, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', ...toSymmetric }), 'InvalidCiphertextException');
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: flipBit(rsaCiphertext, 7), sourceKeyId: rsa.keyId, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', ...toSymmetric }), 'InvalidCiphertextException');
    // Without SourceEncryptionAlgorithm the blob is read as a symmetric ciphertext, which it is not.
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: rsaCiphertext, sourceKeyId: rsa.keyId, ...toSymmetric }), 'InvalidCiphertextException');
    // Encryption contexts belong to symmetric keys only, on either side.
    await rejectsWith(
      h.call(ops.reEncrypt, { ciphertextBlob: rsaCiphertext, sourceKeyId: rsa.keyId, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', sourceEncryptionContext: { a: 'b' }, ...toSymmetric }),
      'ValidationException',
    );
    await rejectsWith(
      h.call(ops.reEncrypt, { ciphertextBlob: symmetricCiphertext, destinationKeyId: rsa.keyId, destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', destinationEncryptionContext: { a: 'b' } }),
      'ValidationException',
    );
    // An algorithm the key does not take, on either side; an algorithm that does not exist.
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: symmetricCiphertext, destinationKeyId: rsa.keyId }), 'InvalidKeyUsageException');
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: symmetricCiphertext, destinationKeyId: symmetric.keyId, destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }), 'InvalidKeyUsageException');
    await rejectsWith(
      h.call(ops.reEncrypt, { ciphertextBlob: symmetricCiphertext, sourceKeyId: symmetric.keyId, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_1', ...toSymmetric }),
      'InvalidKeyUsageException',
    );
    await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: symmetricCiphertext, destinationKeyId: rsa.keyId, destinationEncryptionAlgorithm: 'RSAES_PKCS1_V1_5' as never }), 'ValidationException');
    // A plaintext longer than OAEP takes under the destination key (190 bytes for RSA_2048 with SHA-256).
    const long = (await h.call(ops.encrypt, { keyId: symmetric.keyId, plaintext: Buffer.alloc(191, 1) })).ciphertextBlob;
    const error = await rejectsWith(h.call(ops.reEncrypt, { ciphertextBlob: long, destinationKeyId: rsa.keyId, destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }), 'ValidationException');
    expect(error.message).toContain('at most 190');
    const fits = await h.call(ops.reEncrypt, { ciphertextBlob: (await h.call(ops.encrypt, { keyId: symmetric.keyId, plaintext: Buffer.alloc(190, 1) })).ciphertextBlob, destinationKeyId: rsa.keyId, destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(fits.ciphertextBlob.length).toBe(256);
  }, 60_000);
});

describe('GenerateMac and VerifyMac', () => {
  it.each([
    ['HMAC_224', 'HMAC_SHA_224', 28],
    ['HMAC_256', 'HMAC_SHA_256', 32],
    ['HMAC_384', 'HMAC_SHA_384', 48],
    ['HMAC_512', 'HMAC_SHA_512', 64],
  ])('%s with %s: the MAC verifies, and fails when one bit changes', async (spec, macAlgorithm, length) => {
    const key = await keyOf(spec, 'GENERATE_VERIFY_MAC');
    const message = Buffer.from(`mac me ${spec}`);
    const { mac, keyId } = await h.call(ops.generateMac, { keyId: key.keyId, message, macAlgorithm });
    expect(keyId).toBe(key.arn);
    expect(mac.length).toBe(length);
    expect((await h.call(ops.generateMac, { keyId: key.keyId, message, macAlgorithm })).mac).toEqual(mac);
    expect(await h.call(ops.verifyMac, { keyId: key.keyId, message, macAlgorithm, mac })).toEqual({ keyId: key.arn, macValid: true, macAlgorithm });
    await rejectsWith(h.call(ops.verifyMac, { keyId: key.keyId, message, macAlgorithm, mac: flipBit(mac) }), 'KMSInvalidMacException');
    await rejectsWith(h.call(ops.verifyMac, { keyId: key.keyId, message: flipBit(message), macAlgorithm, mac }), 'KMSInvalidMacException');
    await rejectsWith(h.call(ops.verifyMac, { keyId: key.keyId, message, macAlgorithm, mac: mac.subarray(1) }), 'KMSInvalidMacException');
    const wrong = macAlgorithm === 'HMAC_SHA_256' ? 'HMAC_SHA_512' : 'HMAC_SHA_256';
    await rejectsWith(h.call(ops.generateMac, { keyId: key.keyId, message, macAlgorithm: wrong }), 'InvalidKeyUsageException');
    await rejectsWith(h.call(ops.generateMac, { keyId: key.keyId, message: Buffer.alloc(4097), macAlgorithm }), 'ValidationException');
  });

  it('refuses MACs with keys of another usage', async () => {
    const key = await keyOf('ECC_NIST_P256', 'SIGN_VERIFY');
    await rejectsWith(h.call(ops.generateMac, { keyId: key.keyId, message: Buffer.from('x'), macAlgorithm: 'HMAC_SHA_256' }), 'InvalidKeyUsageException');
  });
});

describe('DeriveSharedSecret (ECDH)', () => {
  it.each([
    ['ECC_NIST_P256', 'prime256v1'],
    ['ECC_NIST_P384', 'secp384r1'],
    ['ECC_NIST_P521', 'secp521r1'],
    ['ECC_SECG_P256K1', 'secp256k1'],
  ])('%s: the secret equals the one node:crypto derives from the other side', async (spec, namedCurve) => {
    const key = await keyOf(spec, 'KEY_AGREEMENT');
    const peer = generateKeyPairSync('ec', { namedCurve });
    const response = await h.call(ops.deriveSharedSecret, {
      keyId: key.keyId,
      keyAgreementAlgorithm: 'ECDH',
      publicKey: peer.publicKey.export({ format: 'der', type: 'spki' }),
    });
    const expected = diffieHellman({ privateKey: peer.privateKey, publicKey: await publicKeyOf(key.keyId) });
    expect(response).toMatchObject({ keyId: key.arn, keyAgreementAlgorithm: 'ECDH', keyOrigin: 'AWS_KMS' });
    expect(response.sharedSecret).toEqual(expected);
  });

  it('takes a compressed peer point and refuses a key on another curve or not a key', async () => {
    const key = await keyOf('ECC_NIST_P256', 'KEY_AGREEMENT');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const compressed = Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), ecdh.getPublicKey(undefined, 'compressed')]);
    const { sharedSecret } = await h.call(ops.deriveSharedSecret, { keyId: key.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: compressed });
    const kmsPoint = (await publicKeyOf(key.keyId)).export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(kmsPoint.x!, 'base64url'), Buffer.from(kmsPoint.y!, 'base64url')]);
    expect(sharedSecret).toEqual(ecdh.computeSecret(point));
    const other = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
    await rejectsWith(h.call(ops.deriveSharedSecret, { keyId: key.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: other }), 'ValidationException');
    await rejectsWith(h.call(ops.deriveSharedSecret, { keyId: key.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: Buffer.from('junk') }), 'ValidationException');
    await rejectsWith(h.call(ops.deriveSharedSecret, { keyId: key.keyId, publicKey: other }), 'ValidationException');
    const signing = await keyOf('ECC_NIST_P256', 'SIGN_VERIFY');
    await rejectsWith(h.call(ops.deriveSharedSecret, { keyId: signing.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: compressed }), 'InvalidKeyUsageException');
  });
});

describe('GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext', () => {
  it.each(['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'])(
    '%s: a matching pair whose private key Decrypt returns',
    async (keyPairSpec) => {
      const wrapping = (await h.call(ops.createKey, {})).keyMetadata;
      const encryptionContext = { purpose: 'data-key-pair' };
      const pair = await h.call(ops.generateDataKeyPair, { keyId: wrapping.keyId, keyPairSpec, encryptionContext });
      expect(pair).toMatchObject({ keyId: wrapping.arn, keyPairSpec });
      const privateKey = createPrivateKey({ key: pair.privateKeyPlaintext, format: 'der', type: 'pkcs8' });
      const publicKey = createPublicKey({ key: pair.publicKey, format: 'der', type: 'spki' });
      const signature = nodeSign('sha256', Buffer.from('pair'), privateKey);
      expect(nodeVerify('sha256', Buffer.from('pair'), publicKey, signature)).toBe(true);
      const { plaintext } = await h.call(ops.decrypt, { ciphertextBlob: pair.privateKeyCiphertextBlob, encryptionContext });
      expect(plaintext).toEqual(pair.privateKeyPlaintext);

      const bare = await h.call(ops.generateDataKeyPairWithoutPlaintext, { keyId: wrapping.keyId, keyPairSpec, encryptionContext });
      expect(bare.privateKeyPlaintext).toBeUndefined();
      const opened = await h.call(ops.decrypt, { ciphertextBlob: bare.privateKeyCiphertextBlob, encryptionContext });
      const derivedPublic = createPublicKey(createPrivateKey({ key: opened.plaintext, format: 'der', type: 'pkcs8' }));
      expect(derivedPublic.export({ format: 'der', type: 'spki' })).toEqual(bare.publicKey);
      await rejectsWith(h.call(ops.decrypt, { ciphertextBlob: bare.privateKeyCiphertextBlob }), 'InvalidCiphertextException');
    },
    60_000,
  );

  it('needs a KeyPairSpec and a symmetric encryption key', async () => {
    const wrapping = (await h.call(ops.createKey, {})).keyMetadata;
    await rejectsWith(h.call(ops.generateDataKeyPair, { keyId: wrapping.keyId }), 'ValidationException');
    await rejectsWith(h.call(ops.generateDataKeyPair, { keyId: wrapping.keyId, keyPairSpec: 'SM2' }), 'ValidationException');
    const rsa = await keyOf('RSA_2048', 'ENCRYPT_DECRYPT');
    await rejectsWith(h.call(ops.generateDataKeyPair, { keyId: rsa.keyId, keyPairSpec: 'ECC_NIST_P256' }), 'InvalidKeyUsageException');
  });
});

describe('CreateKey for asymmetric and HMAC specs', () => {
  it.each([
    [{ keySpec: 'HMAC_256' }, 'ValidationException'],
    [{ keySpec: 'ECC_NIST_P256', keyUsage: 'ENCRYPT_DECRYPT' }, 'ValidationException'],
    [{ keySpec: 'RSA_2048', keyUsage: 'KEY_AGREEMENT' }, 'ValidationException'],
    [{ keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'KEY_AGREEMENT' }, 'ValidationException'],
    [{ keySpec: 'HMAC_512', keyUsage: 'SIGN_VERIFY' }, 'ValidationException'],
  ])('refuses %j with %s', async (request, name) => {
    await rejectsWith(h.call(ops.createKey, request), name);
  });

  it('keeps private and secret halves in custody, with only the attributes the usage needs', async () => {
    const expectations: Array<[string, string, Record<string, boolean>]> = [
      ['RSA_2048', 'SIGN_VERIFY', { sign: true, decrypt: false, derive: false, unwrap: false }],
      ['RSA_2048', 'ENCRYPT_DECRYPT', { sign: false, decrypt: true, derive: false, unwrap: false }],
      ['ECC_NIST_P256', 'KEY_AGREEMENT', { sign: false, decrypt: false, derive: true }],
      ['ECC_NIST_EDWARDS25519', 'SIGN_VERIFY', { sign: true, derive: false }],
      ['HMAC_384', 'GENERATE_VERIFY_MAC', { sign: true, verify: true, encrypt: false, decrypt: false, derive: false }],
    ];
    for (const [spec, usage, flags] of expectations) {
      const key = await keyOf(spec, usage);
      const stored = await h.store.getKey(key.keyId);
      const attributes = await h.hsm.describeKeyObject(stored!.currentVersionId);
      expect(attributes, `${spec} ${usage}`).toMatchObject({ token: true, private: true, sensitive: true, extractable: false, ...flags });
    }
    // OpenSC's independent listing: every private key is sensitive and never extractable.
    const listing = listObjectsWithPkcs11Tool(h.token);
    const privateKeys = listing.split(/\n(?=\S)/).filter((block) => /^Private Key Object/.test(block));
    expect(privateKeys.length).toBeGreaterThanOrEqual(4);
    for (const block of privateKeys) {
      expect(block).toMatch(/Access:.*\bsensitive\b/);
      expect(block).toMatch(/never extractable/);
      expect(block).toMatch(/label:\s+p11kms:/);
    }
    const secretKeys = listing.split(/\n(?=\S)/).filter((block) => /^Secret Key Object/.test(block));
    for (const block of secretKeys) expect(block).toMatch(/never extractable/);
  });

  it('does not rotate asymmetric or HMAC keys (UnsupportedOperationException, as AWS)', async () => {
    for (const [spec, usage] of [['RSA_2048', 'SIGN_VERIFY'], ['HMAC_256', 'GENERATE_VERIFY_MAC'], ['ECC_NIST_P256', 'KEY_AGREEMENT']]) {
      const key = await keyOf(spec!, usage!);
      await rejectsWith(h.call(ops.rotateKeyOnDemand, { keyId: key.keyId }), 'UnsupportedOperationException');
      await rejectsWith(h.call(ops.enableKeyRotation, { keyId: key.keyId }), 'UnsupportedOperationException');
    }
  });

  it('grants only the operations a key of that kind takes', async () => {
    const signing = await keyOf('ECC_NIST_P256', 'SIGN_VERIFY');
    await h.call(ops.createGrant, { keyId: signing.keyId, granteePrincipal: DEVELOPER, operations: ['Sign', 'Verify', 'GetPublicKey'] });
    await rejectsWith(h.call(ops.createGrant, { keyId: signing.keyId, granteePrincipal: DEVELOPER, operations: ['Encrypt'] }), 'ValidationException');
    const hmac = await keyOf('HMAC_256', 'GENERATE_VERIFY_MAC');
    await h.call(ops.createGrant, { keyId: hmac.keyId, granteePrincipal: DEVELOPER, operations: ['GenerateMac', 'VerifyMac'] });
    await rejectsWith(h.call(ops.createGrant, { keyId: hmac.keyId, granteePrincipal: DEVELOPER, operations: ['GetPublicKey'] }), 'ValidationException');
  });

  it('records the algorithm condition keys a key policy can test', async () => {
    const key = await keyOf('ECC_NIST_P256', 'SIGN_VERIFY');
    await h.call(ops.putKeyPolicy, {
      keyId: key.keyId,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Deny', Principal: { AWS: DEVELOPER }, Action: 'kms:Sign', Resource: '*', Condition: { StringEquals: { 'kms:MessageType': 'DIGEST' } } },
        ],
      }),
    });
    const digest = createHash('sha256').update('x').digest();
    await rejectsWith(h.call(ops.sign, { keyId: key.keyId, message: digest, messageType: 'DIGEST', signingAlgorithm: 'ECDSA_SHA_256' }, DEVELOPER), 'AccessDeniedException');
    await h.call(ops.sign, { keyId: key.keyId, message: digest, signingAlgorithm: 'ECDSA_SHA_256' }, DEVELOPER);
  });
});

describe('capability discovery: what the token cannot do is UnsupportedOperationException', () => {
  it('names the missing specs and algorithms, and DescribeKey lists only what works', async () => {
    const rsa = await keyOf('RSA_2048', 'ENCRYPT_DECRYPT');
    const original = h.hsm.capabilities;
    const without = [0x1055, 0x1057, 0x1050 /* CKM_ECDH1_DERIVE */];
    const mechanisms = Array.from({ length: 0x2000 }, (_, m) => m).filter((m) => !without.includes(m));
    // A token that lists no EdDSA and no ECDH, with a profile that will not decode OAEP on the host.
    Object.defineProperty(h.hsm, 'capabilities', {
      value: new TokenCapabilities(mechanisms, { ...PROFILES.softhsm2, oaepHostDecoding: false }),
      configurable: true,
    });
    try {
      await rejectsWith(h.call(ops.createKey, { keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY' }), 'UnsupportedOperationException');
      await rejectsWith(h.call(ops.createKey, { keySpec: 'ECC_NIST_P256', keyUsage: 'KEY_AGREEMENT' }), 'UnsupportedOperationException');
      const error = await rejectsWith(
        h.call(ops.encrypt, { keyId: rsa.keyId, plaintext: Buffer.from('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
        'UnsupportedOperationException',
      );
      expect(error.message).toContain('RSAES_OAEP_SHA_256');
      await h.call(ops.encrypt, { keyId: rsa.keyId, plaintext: Buffer.from('x'), encryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
      expect((await h.call(ops.describeKey, { keyId: rsa.keyId })).keyMetadata.encryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1']);
    } finally {
      Object.defineProperty(h.hsm, 'capabilities', { value: original, configurable: true });
    }
  });
});
