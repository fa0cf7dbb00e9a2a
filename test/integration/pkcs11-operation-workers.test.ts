import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { constants, createHash, createPublicKey, randomUUID, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { OperationWorkerFailed } from '../../src/adapters/pkcs11/operation-workers.js';
import { Pkcs11Hsm } from '../../src/adapters/pkcs11/pkcs11-hsm.js';
import { PROFILES, type ProfileName, type WorkingCopySettings } from '../../src/adapters/pkcs11/vendor-profiles.js';
import { uuidToBytes } from '../../src/domain/ciphertext.js';
import type { KeySpec, KeyUsage } from '../../src/domain/key.js';
import type { SigningAlgorithm } from '../../src/domain/key-spec-facts.js';
import { HsmAuthenticationError, HsmDecryptionError } from '../../src/ports/hsm.js';
import { freshToken, rawTokenSession, type TestToken } from '../support/softhsm.js';

let token: TestToken;
let hsm: Pkcs11Hsm;

/** The softhsm2 profile's copies, made at a key's first use, so that a test reaches its copy at once. */
const AT_FIRST_USE: WorkingCopySettings = { ...(PROFILES.softhsm2.workingCopies as WorkingCopySettings), copyAfterUses: 1 };

function open(profile: ProfileName, workingCopies: WorkingCopySettings | false): Promise<Pkcs11Hsm> {
  return Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.pin, profile, workingCopies });
}

async function newKey(on: Pkcs11Hsm, keySpec: KeySpec, keyUsage: KeyUsage): Promise<string> {
  const versionId = randomUUID();
  await on.generateKey({ versionId, label: `p11kms:${randomUUID()}:${versionId}`, keySpec, keyUsage });
  return versionId;
}

/** The adapter's operation workers, watched: which calls went to them, and with which key handle. */
const workersOf = (on: Pkcs11Hsm) => on['workers'];

/**
 * The process's own view of the token, beside the adapter (it shares the library's initialisation
 * and login, and never finalises): session objects of any session of the process are visible here
 * (PKCS#11 v2.40 §4.4).
 */
const raw = {
  p11: undefined as unknown as pkcs11js.PKCS11,
  session: undefined as unknown as Buffer,
  open(): void {
    Object.assign(this, rawTokenSession(token));
  },
  /** The private-key objects of a key version: token objects (`onToken`) or working copies. */
  privateKeys(versionId: string, onToken: boolean): Buffer[] {
    this.p11.C_FindObjectsInit(this.session, [
      { type: pkcs11js.CKA_TOKEN, value: onToken },
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_ID, value: uuidToBytes(versionId) },
    ]);
    try {
      return this.p11.C_FindObjects(this.session, 16);
    } finally {
      this.p11.C_FindObjectsFinal(this.session);
    }
  },
};

/** Threads of this process now (/proc/self/task): each worker is one. */
const threads = () => readdirSync('/proc/self/task').length;

interface Signer {
  readonly spec: KeySpec;
  readonly algorithm: SigningAlgorithm;
  /** How node:crypto verifies what the token signed (RFC 8017 §8.1, §8.2; SEC 1 §4.1.4 as DER). */
  readonly verifyWith: (key: KeyObject) => Parameters<typeof nodeVerify>[2];
}
const RSA_PKCS1: Signer = {
  spec: 'RSA_2048',
  algorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
  verifyWith: (key) => ({ key, padding: constants.RSA_PKCS1_PADDING }),
};
const RSA_PSS: Signer = {
  spec: 'RSA_2048',
  algorithm: 'RSASSA_PSS_SHA_256',
  verifyWith: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
};
const ECDSA: Signer = { spec: 'ECC_NIST_P256', algorithm: 'ECDSA_SHA_256', verifyWith: (key) => ({ key, dsaEncoding: 'der' }) };

const digestOf = (message: string) => createHash('sha256').update(message).digest();

async function publicKeyOf(on: Pkcs11Hsm, versionId: string, spec: KeySpec): Promise<KeyObject> {
  return createPublicKey({ key: await on.publicKey(versionId, spec), format: 'der', type: 'spki' });
}

/** Signs `message` and checks the signature with node:crypto and with the token; returns the handle the worker was given, if any. */
async function signAndVerify(on: Pkcs11Hsm, versionId: string, signer: Signer, message: string): Promise<Buffer | undefined> {
  const sign = vi.spyOn(workersOf(on), 'sign');
  try {
    const signature = await on.sign(versionId, signer.spec, signer.algorithm, digestOf(message));
    const publicKey = await publicKeyOf(on, versionId, signer.spec);
    expect(nodeVerify('sha256', Buffer.from(message), signer.verifyWith(publicKey), signature)).toBe(true);
    expect(await on.verify(versionId, signer.spec, signer.algorithm, digestOf(message), signature)).toBe(true);
    return sign.mock.calls.at(-1)?.[1];
  } finally {
    sign.mockRestore();
  }
}

beforeAll(async () => {
  token = freshToken('p11kms-workers');
  hsm = await open('softhsm2', AT_FIRST_USE);
  raw.open();
});
afterAll(async () => hsm?.close());

describe('operation workers: Init and the call together, off the event loop', () => {
  it('are sized by the vendor profile, and on SoftHSM2 only cheap Inits stay on the event loop', () => {
    expect(hsm.profile.operationWorkers).toBe(4);
    expect([PROFILES.softhsm2.cheapInitsOnLoop, PROFILES.cloudhsm.cheapInitsOnLoop, PROFILES.generic.cheapInitsOnLoop]).toEqual([
      true,
      false,
      false,
    ]);
    expect(PROFILES.cloudhsm.operationWorkers).toBeGreaterThan(0);
    expect(PROFILES.generic.operationWorkers).toBeGreaterThan(0);
  });

  // softhsm2: RSA in the workers, ECDSA on the loop; generic (a network HSM as far as the profile
  // says): every signature in the workers. Each with token handles and with working copies.
  describe.each([
    { profile: 'softhsm2' as const, inWorkers: [RSA_PKCS1, RSA_PSS] },
    { profile: 'generic' as const, inWorkers: [RSA_PKCS1, RSA_PSS, ECDSA] },
  ])('$profile profile', ({ profile, inWorkers }) => {
    it('signatures made in the workers on token handles verify (RSA PKCS#1 v1.5, PSS, ECDSA)', async () => {
      const on = await open(profile, false);
      try {
        for (const signer of [RSA_PKCS1, RSA_PSS, ECDSA]) {
          const versionId = await newKey(on, signer.spec, 'SIGN_VERIFY');
          const [tokenObject] = raw.privateKeys(versionId, true);
          const handle = await signAndVerify(on, versionId, signer, `token handle ${signer.algorithm}`);
          if (inWorkers.includes(signer)) expect(handle?.equals(tokenObject!)).toBe(true);
          else expect(handle).toBeUndefined(); // signed on the pool, Init on the event loop
          expect(raw.privateKeys(versionId, false)).toHaveLength(0);
        }
      } finally {
        await on.close();
      }
    });

    it('signatures made in the workers on working copies (session objects of the blocking worker) verify', async () => {
      const on = await open(profile, AT_FIRST_USE);
      try {
        for (const signer of [RSA_PKCS1, RSA_PSS, ECDSA]) {
          const versionId = await newKey(on, signer.spec, 'SIGN_VERIFY');
          await signAndVerify(on, versionId, signer, 'first use, while the copy is made');
          await vi.waitFor(() => expect(raw.privateKeys(versionId, false)).toHaveLength(1), { timeout: 5_000, interval: 20 });
          const [copy] = raw.privateKeys(versionId, false);
          const handle = await signAndVerify(on, versionId, signer, `working copy ${signer.algorithm}`);
          if (inWorkers.includes(signer)) expect(handle?.equals(copy!)).toBe(true);
          else expect(handle).toBeUndefined();
        }
      } finally {
        await on.close();
      }
    });

    it('computes the same HMAC and signs audit digests that verify, wherever their Init runs', async () => {
      const on = await open(profile, AT_FIRST_USE);
      try {
        const macKey = await newKey(hsm, 'HMAC_256', 'GENERATE_VERIFY_MAC');
        const expected = await hsm.mac(macKey, 'HMAC_SHA_256', Buffer.from('message'));
        for (let use = 0; use < 3; use++) expect((await on.mac(macKey, 'HMAC_SHA_256', Buffer.from('message'))).equals(expected)).toBe(true);
        const { publicKeySpkiDer } = await on.ensureAuditSigningKey();
        const payload = Buffer.from('checkpoint');
        const signature = await on.signAuditDigest(createHash('sha256').update(payload).digest());
        const publicKey = createPublicKey({ key: publicKeySpkiDer, format: 'der', type: 'spki' });
        expect(nodeVerify('sha256', payload, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
      } finally {
        await on.close();
      }
    });
  });

  it('on a profile without cheap Inits, AES-GCM, verification and OAEP encryption run in the workers too', async () => {
    const on = await open('generic', AT_FIRST_USE);
    const workers = workersOf(on);
    const calls = { encrypt: vi.spyOn(workers, 'encrypt'), decrypt: vi.spyOn(workers, 'decrypt'), verify: vi.spyOn(workers, 'verify') };
    try {
      const aes = await newKey(on, 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
      const aad = Buffer.from('context');
      const sealed = await on.encrypt(aes, Buffer.from('plaintext'), aad);
      expect((await on.decrypt(aes, sealed, aad)).toString()).toBe('plaintext');
      // A wrong AAD fails the tag check in the worker, and the failure keeps its CKR_ name for the
      // profile's mapping: SoftHSM2 says CKR_GENERAL_ERROR, which only the softhsm2 profile reads
      // as a failed tag (gcmTagFailureCodes); under the generic profile it stays what it is.
      await expect(on.decrypt(aes, sealed, Buffer.from('other'))).rejects.toMatchObject({ message: 'CKR_GENERAL_ERROR' });
      await expect(on.decrypt(aes, sealed, Buffer.from('other'))).rejects.not.toBeInstanceOf(HsmAuthenticationError);
      expect((await on.decrypt(aes, sealed, aad)).toString()).toBe('plaintext'); // the worker carries on
      expect([calls.encrypt.mock.calls.length, calls.decrypt.mock.calls.length]).toEqual([1, 4]);

      const rsa = await newKey(on, 'RSA_2048', 'SIGN_VERIFY');
      const signature = await on.sign(rsa, 'RSA_2048', RSA_PKCS1.algorithm, digestOf('signed'));
      expect(await on.verify(rsa, 'RSA_2048', RSA_PKCS1.algorithm, digestOf('signed'), signature)).toBe(true);
      expect(await on.verify(rsa, 'RSA_2048', RSA_PKCS1.algorithm, digestOf('not signed'), signature)).toBe(false);
      expect(calls.verify).toHaveBeenCalledTimes(2);

      const oaep = await newKey(on, 'RSA_2048', 'ENCRYPT_DECRYPT');
      const ciphertext = await on.encryptAsymmetric(oaep, 'RSA_2048', 'RSAES_OAEP_SHA_1', Buffer.from('secret'));
      expect(calls.encrypt).toHaveBeenCalledTimes(2);
      expect((await on.decryptAsymmetric(oaep, 'RSA_2048', 'RSAES_OAEP_SHA_1', ciphertext)).toString()).toBe('secret');
    } finally {
      for (const spy of Object.values(calls)) spy.mockRestore();
      await on.close();
    }
  });

  it('answers every one of many more concurrent calls than there are workers, each with its own result', async () => {
    const rsa = await newKey(hsm, 'RSA_2048', 'SIGN_VERIFY');
    const oaep = await newKey(hsm, 'RSA_2048', 'ENCRYPT_DECRYPT');
    const publicKey = await publicKeyOf(hsm, rsa, 'RSA_2048');
    const count = hsm.profile.operationWorkers * 8;
    const messages = Array.from({ length: count }, (_, i) => `message ${i}`);
    const ciphertexts = await Promise.all(
      messages.map((message) => hsm.encryptAsymmetric(oaep, 'RSA_2048', 'RSAES_OAEP_SHA_1', Buffer.from(message))),
    );
    // Signatures and decryptions interleaved in the same workers: each worker's session runs one at a time.
    const [signatures, plaintexts] = await Promise.all([
      Promise.all(messages.map((message) => hsm.sign(rsa, 'RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', digestOf(message)))),
      Promise.all(ciphertexts.map((ciphertext) => hsm.decryptAsymmetric(oaep, 'RSA_2048', 'RSAES_OAEP_SHA_1', ciphertext))),
    ]);
    messages.forEach((message, i) => {
      expect(nodeVerify('sha256', Buffer.from(message), RSA_PKCS1.verifyWith(publicKey), signatures[i]!)).toBe(true);
      expect(plaintexts[i]!.toString()).toBe(message);
    });
  });

  it('decryptAsymmetric still answers HsmDecryptionError for any ciphertext the token refuses, and the workers go on', async () => {
    const versionId = await newKey(hsm, 'RSA_2048', 'ENCRYPT_DECRYPT');
    // SHA-1 runs OAEP in the token, SHA-256 raw RSA in the token and OAEP on the host (softhsm2 profile).
    for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const) {
      const ciphertext = await hsm.encryptAsymmetric(versionId, 'RSA_2048', algorithm, Buffer.from('secret'));
      const tampered = Buffer.from(ciphertext);
      tampered[10]! ^= 0x01;
      const bad = [
        tampered,
        Buffer.alloc(256, 0xff), // larger than the modulus: the token refuses it
        Buffer.alloc(256), // zero
        ciphertext.subarray(1), // one byte short (RFC 8017 §7.1.2 step 1)
      ];
      // More at once than there are workers, so that every worker meets a failure.
      const failures = Array.from({ length: hsm.profile.operationWorkers * 2 }, (_, i) => bad[i % bad.length]!);
      const outcomes = await Promise.allSettled(failures.map((c) => hsm.decryptAsymmetric(versionId, 'RSA_2048', algorithm, c)));
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(HsmDecryptionError);
      }
      const afterwards = await Promise.all(
        Array.from({ length: hsm.profile.operationWorkers * 2 }, () => hsm.decryptAsymmetric(versionId, 'RSA_2048', algorithm, ciphertext)),
      );
      expect(afterwards.map((plaintext) => plaintext.toString())).toEqual(afterwards.map(() => 'secret'));
    }
    // A key that may not decrypt: the token's CKR_KEY_FUNCTION_NOT_PERMITTED is a decryption failure too.
    const signing = await newKey(hsm, 'RSA_2048', 'SIGN_VERIFY');
    await expect(hsm.decryptAsymmetric(signing, 'RSA_2048', 'RSAES_OAEP_SHA_1', Buffer.alloc(256, 1))).rejects.toBeInstanceOf(
      HsmDecryptionError,
    );
  });

  it('rejects with the PKCS#11 return value as pkcs11js names it (CKR_NAME), as calls on the event loop did', async () => {
    const decrypting = await newKey(hsm, 'RSA_2048', 'ENCRYPT_DECRYPT');
    const error = await hsm.sign(decrypting, 'RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', digestOf('m')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationWorkerFailed);
    expect(error).toMatchObject({ message: 'CKR_KEY_FUNCTION_NOT_PERMITTED', code: pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED });
    const noSuchObject = Buffer.alloc(8, 0x7f);
    await expect(workersOf(hsm).sign({ mechanism: pkcs11js.CKM_RSA_PKCS }, noSuchObject, Buffer.alloc(51), 256)).rejects.toThrow(
      /^CKR_(OBJECT|KEY)_HANDLE_INVALID$/,
    );
  });

  it('close ends the worker threads and refuses later calls; nothing is left to keep the process alive', async () => {
    const before = threads();
    const closing = await open('softhsm2', false);
    const versionId = await newKey(closing, 'RSA_2048', 'SIGN_VERIFY');
    await closing.sign(versionId, 'RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', digestOf('m'));
    // The operation workers and the blocking-call worker, one thread each.
    expect(threads()).toBeGreaterThanOrEqual(before + closing.profile.operationWorkers + 1);
    await closing.close();
    await vi.waitFor(() => expect(threads()).toBeLessThanOrEqual(before), { timeout: 5_000, interval: 20 });
    await expect(closing.sign(versionId, 'RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', digestOf('m'))).rejects.toThrow(/closed/);
    // The instance that stays open signs on.
    await signAndVerify(hsm, versionId, RSA_PKCS1, 'still open');
  });
});
