import { createECDH } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KmsError } from '../../src/domain/errors.js';
import * as ops from '../../src/operations/index.js';
import type { AnyOperation } from '../../src/operations/operation.js';
import { ACCOUNT, DEVELOPER, pipelineHarness, type PipelineHarness } from '../support/pipeline-harness.js';

/**
 * AWS KMS DryRun ("Testing your permissions"): every check a real call makes before its work, then
 * DryRunOperationException instead of the work. Real pipeline, real SoftHSM2 token.
 */
let h: PipelineHarness;
let symmetric: { keyId: string; arn: string };
let signing: { keyId: string; arn: string };
let hmac: { keyId: string; arn: string };
let agreement: { keyId: string; arn: string };
let ciphertextBlob: Buffer;
let signature: Buffer;
let mac: Buffer;

/** A caller with no identity policy: the default key policy delegates to the account, and nothing allows. */
const NOBODY = `arn:aws:iam::${ACCOUNT}:role/Nobody`;
const message = Buffer.from('dry run');

beforeAll(async () => {
  h = await pipelineHarness();
  const make = async (keySpec: string, keyUsage: string) => (await h.call(ops.createKey, { keySpec, keyUsage })).keyMetadata;
  symmetric = await make('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  signing = await make('ECC_NIST_P256', 'SIGN_VERIFY');
  hmac = await make('HMAC_256', 'GENERATE_VERIFY_MAC');
  agreement = await make('ECC_NIST_P256', 'KEY_AGREEMENT');
  ciphertextBlob = (await h.call(ops.encrypt, { keyId: symmetric.keyId, plaintext: message, encryptionContext: { app: 'a' } })).ciphertextBlob;
  signature = (await h.call(ops.sign, { keyId: signing.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' })).signature;
  mac = (await h.call(ops.generateMac, { keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256' })).mac;
}, 60_000);
afterAll(async () => h?.close());
afterEach(() => vi.restoreAllMocks());

async function failure(promise: Promise<unknown>): Promise<KmsError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KmsError);
  return error as KmsError;
}

const peerPoint = () => createECDH('prime256v1').generateKeys();
const spki = (point: Buffer) =>
  Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), point]);

/** A request each dry-runnable operation would carry out; read when the tests run, after beforeAll. */
function requests(): Array<[string, AnyOperation, Record<string, unknown>]> {
  return [
    ['Encrypt', ops.encrypt, { keyId: symmetric.keyId, plaintext: message }],
    ['Decrypt', ops.decrypt, { ciphertextBlob, encryptionContext: { app: 'a' } }],
    ['ReEncrypt', ops.reEncrypt, { ciphertextBlob, sourceEncryptionContext: { app: 'a' }, destinationKeyId: symmetric.keyId }],
    ['GenerateDataKey', ops.generateDataKey, { keyId: symmetric.keyId, keySpec: 'AES_256' }],
    ['GenerateDataKeyWithoutPlaintext', ops.generateDataKeyWithoutPlaintext, { keyId: symmetric.keyId, keySpec: 'AES_256' }],
    ['GenerateDataKeyPair', ops.generateDataKeyPair, { keyId: symmetric.keyId, keyPairSpec: 'ECC_NIST_P256' }],
    ['GenerateDataKeyPairWithoutPlaintext', ops.generateDataKeyPairWithoutPlaintext, { keyId: symmetric.keyId, keyPairSpec: 'ECC_NIST_P256' }],
    ['Sign', ops.sign, { keyId: signing.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' }],
    ['Verify', ops.verify, { keyId: signing.keyId, message, signature, signingAlgorithm: 'ECDSA_SHA_256' }],
    ['GenerateMac', ops.generateMac, { keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256' }],
    ['VerifyMac', ops.verifyMac, { keyId: hmac.keyId, message, mac, macAlgorithm: 'HMAC_SHA_256' }],
    ['DeriveSharedSecret', ops.deriveSharedSecret, { keyId: agreement.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: spki(peerPoint()) }],
    ['CreateGrant', ops.createGrant, { keyId: symmetric.keyId, granteePrincipal: DEVELOPER, operations: ['Decrypt'] }],
  ];
}

const TOKEN_CALLS = [
  'encrypt', 'decrypt', 'sign', 'verify', 'mac', 'deriveSharedSecret', 'random', 'publicKey', 'encryptAsymmetric', 'decryptAsymmetric',
] as const;

describe('DryRun', () => {
  it('answers DryRunOperationException for a request that would succeed, with no token call and one ledger entry each', async () => {
    const spies = TOKEN_CALLS.map((name) => vi.spyOn(h.hsm, name));
    for (const [name, operation, request] of requests()) {
      const before = h.audit.events.length;
      const error = await failure(h.call(operation, { ...request, dryRun: true }));
      expect([name, error.name]).toEqual([name, 'DryRunOperationException']);
      expect(h.audit.events.length).toBe(before + 1);
      expect(h.audit.events.at(-1)).toMatchObject({ operation: name, outcome: 'DryRunOperationException', parameters: { dryRun: true } });
    }
    expect(spies.map((spy, i) => [TOKEN_CALLS[i], spy.mock.calls.length])).toEqual(TOKEN_CALLS.map((name) => [name, 0]));
  });

  it('the same requests without DryRun succeed: the dry runs above checked what a real call needs', async () => {
    for (const [name, operation, request] of requests()) {
      await expect(h.call(operation, request), name).resolves.toBeTypeOf('object');
    }
  });

  it('gives the error the real call would give: denied, disabled, invalid parameters', async () => {
    const encrypt = { keyId: symmetric.keyId, plaintext: message, dryRun: true };
    expect((await failure(h.call(ops.encrypt, encrypt, NOBODY))).name).toBe('AccessDeniedException');
    expect((await failure(h.call(ops.encrypt, { ...encrypt, plaintext: Buffer.alloc(4097) }))).name).toBe('ValidationException');
    // Checked inside the operation, before its token call: a symmetric key has no RSAES_OAEP_SHA_256.
    const real = await failure(h.call(ops.encrypt, { ...encrypt, dryRun: undefined, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    const dry = await failure(h.call(ops.encrypt, { ...encrypt, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(dry.name).toBe(real.name);
    expect(dry.name).not.toBe('DryRunOperationException');
    expect((await failure(h.call(ops.sign, { keyId: symmetric.keyId, message, signingAlgorithm: 'ECDSA_SHA_256', dryRun: true }))).name).toBe(
      'InvalidKeyUsageException',
    );
    expect((await failure(h.call(ops.decrypt, { ciphertextBlob: Buffer.from('junk'), dryRun: true }))).name).toBe('InvalidCiphertextException');

    await h.call(ops.disableKey, { keyId: hmac.keyId });
    try {
      const verifyMac = { keyId: hmac.keyId, message, mac, macAlgorithm: 'HMAC_SHA_256', dryRun: true };
      expect((await failure(h.call(ops.verifyMac, verifyMac))).name).toBe('DisabledException');
    } finally {
      await h.call(ops.enableKey, { keyId: hmac.keyId });
    }
  });

  it('leaves grants as they were: CreateGrant makes none, RetireGrant and RevokeGrant remove none', async () => {
    const grants = async () => (await h.call(ops.listGrants, { keyId: symmetric.keyId })).grants.map((g: { grantId: string }) => g.grantId);
    const before = await grants();
    const dry = await failure(h.call(ops.createGrant, { keyId: symmetric.keyId, granteePrincipal: DEVELOPER, operations: ['Decrypt'], dryRun: true }));
    expect(dry.name).toBe('DryRunOperationException');
    // Checked in the operation before its write, as for a real call: a symmetric key cannot grant Sign.
    const misfit = { keyId: symmetric.keyId, granteePrincipal: DEVELOPER, operations: ['Sign'], dryRun: true };
    expect((await failure(h.call(ops.createGrant, misfit))).name).toBe('ValidationException');
    expect(await grants()).toEqual(before);

    const { grantId, grantToken } = await h.call(ops.createGrant, {
      keyId: symmetric.keyId, granteePrincipal: DEVELOPER, retiringPrincipal: DEVELOPER, operations: ['Decrypt'],
    });
    const revoke = (id: string) => h.call(ops.revokeGrant, { keyId: symmetric.keyId, grantId: id, dryRun: true });
    expect((await failure(revoke(grantId))).name).toBe('DryRunOperationException');
    expect((await failure(revoke('0'.repeat(64)))).name).toBe('NotFoundException');
    const retire = await failure(h.call(ops.retireGrant, { grantToken, dryRun: true }, DEVELOPER));
    expect(retire.name).toBe('DryRunOperationException');
    expect(await grants()).toContain(grantId);

    await h.call(ops.revokeGrant, { keyId: symmetric.keyId, grantId });
    expect(await grants()).toEqual(before);
  });

  it('with IGNORE_CIPHERTEXT, Decrypt and ReEncrypt test permissions by key id alone, with no ciphertext', async () => {
    const spies = TOKEN_CALLS.map((name) => vi.spyOn(h.hsm, name));
    const ignore = { dryRun: true, dryRunModifiers: ['IGNORE_CIPHERTEXT'] };
    const decrypt = { keyId: symmetric.keyId, ...ignore };
    expect((await failure(h.call(ops.decrypt, decrypt))).name).toBe('DryRunOperationException');
    expect(h.audit.events.at(-1)).toMatchObject({
      operation: 'Decrypt',
      outcome: 'DryRunOperationException',
      keyArns: [symmetric.arn],
      parameters: { dryRun: true, dryRunModifiers: ['IGNORE_CIPHERTEXT'] },
    });
    expect((await failure(h.call(ops.decrypt, decrypt, NOBODY))).name).toBe('AccessDeniedException');
    const reEncrypt = { sourceKeyId: symmetric.keyId, destinationKeyId: symmetric.keyId, ...ignore };
    expect((await failure(h.call(ops.reEncrypt, reEncrypt))).name).toBe('DryRunOperationException');
    // The key must then be named; and without DryRun the modifier changes nothing: a ciphertext is required.
    expect((await failure(h.call(ops.decrypt, ignore))).name).toBe('ValidationException');
    expect((await failure(h.call(ops.reEncrypt, { ...reEncrypt, sourceKeyId: undefined }))).name).toBe('ValidationException');
    expect((await failure(h.call(ops.decrypt, { ...decrypt, dryRun: undefined }))).name).toBe('ValidationException');
    // A signing key cannot decrypt, ciphertext or not.
    expect((await failure(h.call(ops.decrypt, { ...decrypt, keyId: signing.keyId }))).name).toBe('InvalidKeyUsageException');
    expect(spies.map((spy, i) => [TOKEN_CALLS[i], spy.mock.calls.length])).toEqual(TOKEN_CALLS.map((name) => [name, 0]));
  });

  it('is honoured only where AWS KMS takes it: DescribeKey ignores the field', async () => {
    const described = await h.call(ops.describeKey, { keyId: symmetric.keyId, dryRun: true });
    expect(described.keyMetadata.keyId).toBe(symmetric.keyId);
    expect(h.audit.events.at(-1)).toMatchObject({ operation: 'DescribeKey', outcome: 'Success' });
    expect(h.audit.events.at(-1)?.parameters).not.toHaveProperty('dryRun');
  });
});
