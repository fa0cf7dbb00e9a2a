import { constants, createHash, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireBuild, startServer, tempDir, type ServerProcess } from '../support/server-process.js';

let dataDir: string;
let server: ServerProcess;
const run = (...args: string[]) => cli([...args, '--data-dir', dataDir]);
const spki = (base64: string) => createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });

beforeAll(async () => {
  requireBuild();
  dataDir = tempDir('p11kms-e2e-asymmetric-');
  server = await startServer(['--data-dir', dataDir]);
});
afterAll(async () => {
  await server?.stop();
});

describe('asymmetric, HMAC and ECDH keys through the CLI and a spawned server', () => {
  it('signs and verifies, and OpenSSL verifies with the public key', () => {
    const key = run('create-key', '--key-spec', 'ECC_NIST_P256', '--key-usage', 'SIGN_VERIFY').KeyMetadata;
    expect(key).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ECDSA_SHA_256'] });
    // A signing key has no encryption algorithms: left out, as AWS KMS leaves them out.
    expect(Object.keys(key).filter((name) => /Algorithms$/.test(name))).toEqual(['SigningAlgorithms']);
    const signed = run('sign', '--key-id', key.KeyId, '--message', 'release 1.0', '--signing-algorithm', 'ECDSA_SHA_256');
    expect(signed).toMatchObject({ KeyId: key.Arn, SigningAlgorithm: 'ECDSA_SHA_256' });
    const publicKey = run('get-public-key', '--key-id', key.KeyId);
    expect(publicKey).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['ECDSA_SHA_256'] });
    expect(verify('sha256', Buffer.from('release 1.0'), { key: spki(publicKey.PublicKey), dsaEncoding: 'der' }, Buffer.from(signed.Signature, 'base64'))).toBe(true);
    const digest = createHash('sha256').update('release 1.0').digest('base64');
    expect(run('verify', '--key-id', key.KeyId, '--message-base64', digest, '--message-type', 'DIGEST', '--signing-algorithm', 'ECDSA_SHA_256', '--signature', signed.Signature))
      .toEqual({ KeyId: key.Arn, SignatureValid: true, SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(() => run('verify', '--key-id', key.KeyId, '--message', 'release 1.1', '--signing-algorithm', 'ECDSA_SHA_256', '--signature', signed.Signature))
      .toThrow(/KMSInvalidSignatureException/);
  });

  it('decrypts RSAES_OAEP_SHA_256 ciphertext made with the public key', () => {
    const key = run('create-key', '--key-spec', 'RSA_2048', '--key-usage', 'ENCRYPT_DECRYPT').KeyMetadata;
    const publicKey = spki(run('get-public-key', '--key-id', key.KeyId).PublicKey);
    const ciphertext = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('to p11kms'));
    const decrypted = run('decrypt', '--key-id', key.KeyId, '--encryption-algorithm', 'RSAES_OAEP_SHA_256', '--ciphertext-blob', ciphertext.toString('base64'));
    expect(Buffer.from(decrypted.Plaintext, 'base64').toString()).toBe('to p11kms');
    const sealed = run('encrypt', '--key-id', key.KeyId, '--plaintext', 'round trip', '--encryption-algorithm', 'RSAES_OAEP_SHA_1');
    expect(Buffer.from(sealed.CiphertextBlob, 'base64')).toHaveLength(256);
  });

  it('re-encrypts between an RSA key and a symmetric key, both ways', () => {
    const rsa = run('create-key', '--key-spec', 'RSA_2048', '--key-usage', 'ENCRYPT_DECRYPT').KeyMetadata;
    const symmetric = run('create-key').KeyMetadata;
    const ciphertext = publicEncrypt({ key: spki(run('get-public-key', '--key-id', rsa.KeyId).PublicKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('moved'));
    const toSymmetric = run('re-encrypt', '--ciphertext-blob', ciphertext.toString('base64'), '--source-key-id', rsa.KeyId, '--source-encryption-algorithm', 'RSAES_OAEP_SHA_256',
      '--destination-key-id', symmetric.KeyId, '--destination-encryption-context', 'app=e2e');
    expect(toSymmetric).toMatchObject({ SourceKeyId: rsa.Arn, KeyId: symmetric.Arn, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const back = run('re-encrypt', '--ciphertext-blob', toSymmetric.CiphertextBlob, '--source-encryption-context', 'app=e2e',
      '--destination-key-id', rsa.KeyId, '--destination-encryption-algorithm', 'RSAES_OAEP_SHA_1');
    expect(back).toMatchObject({ SourceKeyId: symmetric.Arn, KeyId: rsa.Arn, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    const opened = run('decrypt', '--key-id', rsa.KeyId, '--encryption-algorithm', 'RSAES_OAEP_SHA_1', '--ciphertext-blob', back.CiphertextBlob);
    expect(Buffer.from(opened.Plaintext, 'base64').toString()).toBe('moved');
    expect(() => run('re-encrypt', '--ciphertext-blob', ciphertext.toString('base64'), '--source-encryption-algorithm', 'RSAES_OAEP_SHA_256', '--destination-key-id', symmetric.KeyId))
      .toThrow(/ValidationException/);
  });

  it('makes and checks MACs, data key pairs and ECDH secrets', () => {
    const hmac = run('create-key', '--key-spec', 'HMAC_256', '--key-usage', 'GENERATE_VERIFY_MAC').KeyMetadata;
    const { Mac } = run('generate-mac', '--key-id', hmac.KeyId, '--message', 'm', '--mac-algorithm', 'HMAC_SHA_256');
    expect(run('verify-mac', '--key-id', hmac.KeyId, '--message', 'm', '--mac-algorithm', 'HMAC_SHA_256', '--mac', Mac).MacValid).toBe(true);
    expect(() => run('verify-mac', '--key-id', hmac.KeyId, '--message', 'n', '--mac-algorithm', 'HMAC_SHA_256', '--mac', Mac)).toThrow(/KMSInvalidMacException/);

    const wrapping = run('create-key').KeyMetadata;
    const pair = run('generate-data-key-pair', '--key-id', wrapping.KeyId, '--key-pair-spec', 'ECC_NIST_P384', '--encryption-context', 'app=e2e');
    expect(pair).toMatchObject({ KeyId: wrapping.Arn, KeyPairSpec: 'ECC_NIST_P384' });
    const opened = run('decrypt', '--ciphertext-blob', pair.PrivateKeyCiphertextBlob, '--encryption-context', 'app=e2e');
    expect(opened.Plaintext).toBe(pair.PrivateKeyPlaintext);
    const bare = run('generate-data-key-pair-without-plaintext', '--key-id', wrapping.KeyId, '--key-pair-spec', 'RSA_2048');
    expect(bare.PrivateKeyPlaintext).toBeUndefined();
    expect(spki(bare.PublicKey).asymmetricKeyType).toBe('rsa');

    const agreement = run('create-key', '--key-spec', 'ECC_NIST_P256', '--key-usage', 'KEY_AGREEMENT').KeyMetadata;
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const peerFile = join(dataDir, 'peer.pem');
    writeFileSync(peerFile, peer.publicKey.export({ format: 'pem', type: 'spki' }));
    const derived = run('derive-shared-secret', '--key-id', agreement.KeyId, '--public-key-file', peerFile);
    const theirs = diffieHellman({ privateKey: peer.privateKey, publicKey: spki(run('get-public-key', '--key-id', agreement.KeyId).PublicKey) });
    expect(Buffer.from(derived.SharedSecret, 'base64')).toEqual(theirs);
    expect(derived).toMatchObject({ KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'AWS_KMS' });
  });
});
