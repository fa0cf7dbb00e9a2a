import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createECDH, createHash, createPublicKey, randomUUID, verify as verifySignature } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import pkcs11js from 'pkcs11js';
import { Pkcs11Hsm } from '../../src/adapters/pkcs11/pkcs11-hsm.js';
import { aes256KeyTemplate } from '../../src/adapters/pkcs11/templates.js';
import { PROFILES, type WorkingCopySettings } from '../../src/adapters/pkcs11/vendor-profiles.js';
import { uuidToBytes } from '../../src/domain/ciphertext.js';
import type { KeySpec, KeyUsage } from '../../src/domain/key.js';
import { HsmKeyNotFoundError } from '../../src/ports/hsm.js';
import { freshToken, listObjectsWithPkcs11Tool, rawTokenSession, type TestToken } from '../support/softhsm.js';

/** PKCS#11 v3.0 CKA_COPYABLE, which pkcs11js 2.1.7 does not export. */
const CKA_COPYABLE = 0x171;
/** Short ages, so that the tests about aging take a second or two. */
const SHORT: WorkingCopySettings = { maxAgeMs: 600, retiredCopyGraceMs: 200 };

let token: TestToken;
let hsm: Pkcs11Hsm;

/**
 * The process's own view of the token through pkcs11js, beside the adapter: session objects are
 * visible to every session of the application that made them (PKCS#11 v2.40 §4.4), and so is its
 * login (§5.6). It never finalises the library, which the adapter shares.
 */
const raw = {
  p11: undefined as unknown as pkcs11js.PKCS11,
  session: undefined as unknown as Buffer,
  open(): void {
    Object.assign(this, rawTokenSession(token));
  },
  /** The session objects (working copies) with this key-version id, of any class. */
  copies(versionId: string): Buffer[] {
    this.p11.C_FindObjectsInit(this.session, [
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_ID, value: uuidToBytes(versionId) },
    ]);
    try {
      return this.p11.C_FindObjects(this.session, 16);
    } finally {
      this.p11.C_FindObjectsFinal(this.session);
    }
  },
  flags(handle: Buffer): Record<string, boolean> {
    const names = {
      token: pkcs11js.CKA_TOKEN,
      private: pkcs11js.CKA_PRIVATE,
      sensitive: pkcs11js.CKA_SENSITIVE,
      extractable: pkcs11js.CKA_EXTRACTABLE,
      alwaysSensitive: pkcs11js.CKA_ALWAYS_SENSITIVE,
      neverExtractable: pkcs11js.CKA_NEVER_EXTRACTABLE,
    };
    const values = this.p11.C_GetAttributeValue(this.session, handle, Object.values(names).map((type) => ({ type })));
    return Object.fromEntries(Object.keys(names).map((name, i) => [name, (values[i]!.value as Buffer)[0] === 1]));
  },
  objectClass(handle: Buffer): number {
    return (this.p11.C_GetAttributeValue(this.session, handle, [{ type: pkcs11js.CKA_CLASS }])[0]!.value as Buffer).readUInt32LE(0);
  },
};

/** The softhsm2 profile's settings, but a key is copied at its first use, so that each test sees its copy at once. */
const AT_FIRST_USE: WorkingCopySettings = { ...(PROFILES.softhsm2.workingCopies as WorkingCopySettings), copyAfterUses: 1 };

async function open(workingCopies: WorkingCopySettings | false = AT_FIRST_USE): Promise<Pkcs11Hsm> {
  return Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.pin, workingCopies });
}

async function newKey(on: Pkcs11Hsm = hsm, keySpec: KeySpec = 'SYMMETRIC_DEFAULT', keyUsage: KeyUsage = 'ENCRYPT_DECRYPT') {
  const versionId = randomUUID();
  await on.generateKey({ versionId, label: `p11kms:${randomUUID()}:${versionId}`, keySpec, keyUsage });
  return versionId;
}

const encryptOnce = (on: Pkcs11Hsm, versionId: string) => on.encrypt(versionId, Buffer.from('x'), Buffer.alloc(0));
/**
 * A key's first use runs on the token object while its copy is made in the worker thread: the
 * copies once that has happened (`count` of them, and still that many a moment later).
 */
async function settledCopies(versionId: string, count = 1): Promise<Buffer[]> {
  await vi.waitFor(() => expect(raw.copies(versionId)).toHaveLength(count), { timeout: 5_000, interval: 20 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const copies = raw.copies(versionId);
  expect(copies).toHaveLength(count);
  return copies;
}

/** What a working copy must be: a session object exactly as custody-bound as its token object. */
const CUSTODY_OF_A_COPY = {
  token: false,
  private: true,
  sensitive: true,
  extractable: false,
  alwaysSensitive: true,
  neverExtractable: true,
};

beforeAll(async () => {
  token = freshToken('p11kms-copies');
  hsm = await open();
  raw.open();
});
afterAll(async () => hsm?.close());

describe('working copies of token objects (VendorProfile.workingCopies)', () => {
  it('are on for SoftHSM2 only: CloudHSM and unknown tokens keep the token handles', () => {
    expect(hsm.profile.workingCopies).toEqual(AT_FIRST_USE); // as this file opens it
    expect(PROFILES.softhsm2.workingCopies).toEqual({ maxAgeMs: 60_000, retiredCopyGraceMs: 5_000, copyAfterUses: 2 });
    expect(PROFILES.cloudhsm.workingCopies).toBe(false);
    expect(PROFILES.generic.workingCopies).toBe(false);
  });

  it('encrypts and decrypts on one session-object copy, as sensitive and unextractable as the token object', async () => {
    const versionId = await newKey();
    expect(raw.copies(versionId)).toHaveLength(0);
    const aad = Buffer.from('context');
    const sealed = await hsm.encrypt(versionId, Buffer.from('attack at dawn'), aad);
    expect((await hsm.decrypt(versionId, sealed, aad)).toString()).toBe('attack at dawn');
    const [copy] = await settledCopies(versionId);
    // Once the copy exists, operations run on it.
    const again = await hsm.encrypt(versionId, Buffer.from('attack at dusk'), aad);
    expect((await hsm.decrypt(versionId, again, aad)).toString()).toBe('attack at dusk');
    expect(raw.flags(copy!)).toEqual(CUSTODY_OF_A_COPY);
    expect(raw.objectClass(copy!)).toBe(pkcs11js.CKO_SECRET_KEY);
    // Its value cannot be read, as the token object's cannot (PKCS#11 v2.40 §4.10).
    expect(() => raw.p11.C_GetAttributeValue(raw.session, copy!, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    expect(await hsm.describeKeyObject(versionId)).toMatchObject({ token: true, sensitive: true, extractable: false });
  });

  it('with the softhsm2 profile, copies a key at its 2nd use: a key used once runs on the token object and costs no copy', async () => {
    const profiled = await open(PROFILES.softhsm2.workingCopies);
    try {
      const versionId = await newKey(profiled);
      await encryptOnce(profiled, versionId);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(raw.copies(versionId)).toHaveLength(0);
      await encryptOnce(profiled, versionId);
      await settledCopies(versionId);
    } finally {
      await profiled.close();
    }
  });

  it('makes one copy for many operations that miss at the same time', async () => {
    const versionId = await newKey();
    await Promise.all(Array.from({ length: 64 }, () => encryptOnce(hsm, versionId)));
    await settledCopies(versionId, 1);
  });

  it('holds the same key as the token object: a second instance without copies decrypts what the copy encrypted, and back', async () => {
    const versionId = await newKey();
    const plain = await open(false);
    try {
      const sealed = await hsm.encrypt(versionId, Buffer.from('via the copy'), Buffer.alloc(0));
      expect((await plain.decrypt(versionId, sealed, Buffer.alloc(0))).toString()).toBe('via the copy');
      const back = await plain.encrypt(versionId, Buffer.from('via the token object'), Buffer.alloc(0));
      expect((await hsm.decrypt(versionId, back, Buffer.alloc(0))).toString()).toBe('via the token object');
      // With copies off (the CloudHSM and generic profiles) no session object is made.
      const other = await newKey(plain);
      await encryptOnce(plain, other);
      expect(raw.copies(other)).toHaveLength(0);
    } finally {
      await plain.close();
    }
  });

  it('also serves the asynchronous symmetric path (profile.symmetricCalls async) from the copy', async () => {
    const async = await Pkcs11Hsm.open({
      libraryPath: token.libraryPath,
      tokenLabel: token.tokenLabel,
      pin: token.pin,
      profile: 'generic',
      workingCopies: AT_FIRST_USE,
    });
    try {
      expect(async.profile.symmetricCalls).toBe('async');
      const versionId = await newKey(async);
      const sealed = await async.encrypt(versionId, Buffer.from('pooled'), Buffer.alloc(0));
      expect((await async.decrypt(versionId, sealed, Buffer.alloc(0))).toString()).toBe('pooled');
      await settledCopies(versionId);
      const again = await async.encrypt(versionId, Buffer.from('pooled again'), Buffer.alloc(0));
      expect((await async.decrypt(versionId, again, Buffer.alloc(0))).toString()).toBe('pooled again');
    } finally {
      await async.close();
    }
  });

  it('signs with a copy of the private key; the public key and verification stay on the token object', async () => {
    const versionId = await newKey(hsm, 'ECC_NIST_P256', 'SIGN_VERIFY');
    const digest = createHash('sha256').update('message').digest();
    const signature = await hsm.sign(versionId, 'ECC_NIST_P256', 'ECDSA_SHA_256', digest);
    const publicKey = createPublicKey({ key: await hsm.publicKey(versionId, 'ECC_NIST_P256'), format: 'der', type: 'spki' });
    expect(verifySignature('sha256', Buffer.from('message'), { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
    expect(await hsm.verify(versionId, 'ECC_NIST_P256', 'ECDSA_SHA_256', digest, signature)).toBe(true);
    const copies = await settledCopies(versionId);
    expect(copies.map((copy) => raw.objectClass(copy))).toEqual([pkcs11js.CKO_PRIVATE_KEY]);
    const second = await hsm.sign(versionId, 'ECC_NIST_P256', 'ECDSA_SHA_256', digest);
    expect(verifySignature('sha256', Buffer.from('message'), { key: publicKey, dsaEncoding: 'der' }, second)).toBe(true);
    expect(raw.flags(copies[0]!)).toEqual(CUSTODY_OF_A_COPY);
  });

  it('computes HMACs with a copy: the same MAC as the token object gives', async () => {
    const versionId = await newKey(hsm, 'HMAC_256', 'GENERATE_VERIFY_MAC');
    const mac = await hsm.mac(versionId, 'HMAC_SHA_256', Buffer.from('message'));
    const [copy] = await settledCopies(versionId);
    expect(raw.flags(copy!)).toEqual(CUSTODY_OF_A_COPY);
    expect((await hsm.mac(versionId, 'HMAC_SHA_256', Buffer.from('message'))).equals(mac)).toBe(true);
    const plain = await open(false);
    try {
      expect((await plain.mac(versionId, 'HMAC_SHA_256', Buffer.from('message'))).equals(mac)).toBe(true);
    } finally {
      await plain.close();
    }
  });

  it('decrypts RSA-OAEP and derives ECDH secrets with copies of the private keys', async () => {
    const rsa = await newKey(hsm, 'RSA_2048', 'ENCRYPT_DECRYPT');
    for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const) {
      const ciphertext = await hsm.encryptAsymmetric(rsa, 'RSA_2048', algorithm, Buffer.from('secret'));
      expect((await hsm.decryptAsymmetric(rsa, 'RSA_2048', algorithm, ciphertext)).toString()).toBe('secret');
    }
    expect((await settledCopies(rsa)).map((copy) => raw.objectClass(copy))).toEqual([pkcs11js.CKO_PRIVATE_KEY]);
    const onCopy = await hsm.encryptAsymmetric(rsa, 'RSA_2048', 'RSAES_OAEP_SHA_256', Buffer.from('again'));
    expect((await hsm.decryptAsymmetric(rsa, 'RSA_2048', 'RSAES_OAEP_SHA_256', onCopy)).toString()).toBe('again');

    const ecdh = await newKey(hsm, 'ECC_NIST_P256', 'KEY_AGREEMENT');
    const peer = createECDH('prime256v1');
    const peerPoint = peer.generateKeys();
    const secret = await hsm.deriveSharedSecret(ecdh, 'ECDH', peerPoint);
    // A P-256 SubjectPublicKeyInfo ends with the uncompressed point (65 bytes).
    const ourPoint = (await hsm.publicKey(ecdh, 'ECC_NIST_P256')).subarray(-65);
    expect(secret.equals(peer.computeSecret(ourPoint))).toBe(true);
    const copies = await settledCopies(ecdh);
    expect(copies.map((copy) => raw.objectClass(copy))).toEqual([pkcs11js.CKO_PRIVATE_KEY]);
    expect(raw.flags(copies[0]!)).toEqual(CUSTODY_OF_A_COPY);
    expect((await hsm.deriveSharedSecret(ecdh, 'ECDH', peerPoint)).equals(secret)).toBe(true);
  });

  it('destroyKey destroys the copies with the token objects: the version fails as a missing key, and pkcs11-tool lists nothing of it', async () => {
    const versionId = await newKey();
    await encryptOnce(hsm, versionId);
    await settledCopies(versionId);
    await hsm.destroyKey(versionId);
    expect(raw.copies(versionId)).toHaveLength(0);
    await expect(encryptOnce(hsm, versionId)).rejects.toBeInstanceOf(HsmKeyNotFoundError);
    expect(raw.copies(versionId)).toHaveLength(0);
    expect(listObjectsWithPkcs11Tool(token)).not.toContain(versionId.replaceAll('-', ''));
  });

  it('remakes a copy in use within maxAgeMs, with no operation waiting for it, and destroys the old one after its grace', async () => {
    const aging = await open(SHORT);
    try {
      const versionId = await newKey(aging);
      await encryptOnce(aging, versionId);
      const [first] = await settledCopies(versionId);
      await encryptOnce(aging, versionId); // on the copy: it is in use
      await vi.waitFor(
        () => {
          const copies = raw.copies(versionId);
          expect(copies).toHaveLength(1);
          expect(copies[0]!.equals(first!)).toBe(false);
        },
        { timeout: 5_000, interval: 50 },
      );
    } finally {
      await aging.close();
    }
  });

  it('drops a copy that no operation used during its age: the token holds none until the next use', async () => {
    const aging = await open(SHORT);
    try {
      const versionId = await newKey(aging);
      await encryptOnce(aging, versionId);
      await settledCopies(versionId);
      await vi.waitFor(() => expect(raw.copies(versionId)).toHaveLength(0), { timeout: 5_000, interval: 50 });
      await encryptOnce(aging, versionId);
      await settledCopies(versionId);
    } finally {
      await aging.close();
    }
  });

  it('stops using a key that another instance on the token destroyed once the copy has aged out', async () => {
    const settings = { maxAgeMs: 1_500, retiredCopyGraceMs: 200 };
    const aging = await open(settings);
    try {
      const versionId = await newKey();
      await encryptOnce(aging, versionId);
      await settledCopies(versionId);
      const copiedBy = Date.now();
      await hsm.destroyKey(versionId); // another replica, as far as `aging` can tell
      // Until its copy ages out `aging` still uses it: the bound maxAgeMs states, and no tighter.
      await encryptOnce(aging, versionId);
      await new Promise((resolve) => setTimeout(resolve, settings.maxAgeMs + 50 - (Date.now() - copiedBy)));
      await expect(encryptOnce(aging, versionId)).rejects.toBeInstanceOf(HsmKeyNotFoundError);
      await vi.waitFor(() => expect(raw.copies(versionId)).toHaveLength(0), { timeout: 5_000, interval: 50 });
    } finally {
      await aging.close();
    }
  });

  it('stops using a key that another process deleted (pkcs11-tool) once the copy has aged out', async () => {
    const aging = await open(SHORT);
    try {
      const versionId = await newKey(aging);
      await encryptOnce(aging, versionId);
      await settledCopies(versionId);
      execFileSync(
        'pkcs11-tool',
        ['--module', token.libraryPath, '--token-label', token.tokenLabel, '--login', '--pin', token.pin,
          '--delete-object', '--type', 'secrkey', '--id', versionId.replaceAll('-', '')],
        { env: { ...process.env, SOFTHSM2_CONF: token.conf }, stdio: 'pipe' },
      );
      await new Promise((resolve) => setTimeout(resolve, SHORT.maxAgeMs + 50));
      await expect(encryptOnce(aging, versionId)).rejects.toBeInstanceOf(HsmKeyNotFoundError);
    } finally {
      await aging.close();
    }
  });

  it('close destroys every copy it made', async () => {
    const closing = await open();
    const keys = [await newKey(), await newKey(hsm, 'HMAC_256', 'GENERATE_VERIFY_MAC')];
    await encryptOnce(closing, keys[0]!);
    await closing.mac(keys[1]!, 'HMAC_SHA_256', Buffer.from('m'));
    for (const key of keys) await settledCopies(key);
    await closing.close();
    expect(keys.map((key) => raw.copies(key).length)).toEqual([0, 0]);
    // The instance that stays open still works with both keys, on copies of its own.
    await encryptOnce(hsm, keys[0]!);
    await hsm.mac(keys[1]!, 'HMAC_SHA_256', Buffer.from('m'));
  });

  it('falls back to the token object when the token refuses the copy (CKA_COPYABLE false)', async () => {
    const versionId = randomUUID();
    // The service's own AES key template, with copying forbidden.
    raw.p11.C_GenerateKey(raw.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      ...aes256KeyTemplate({ versionId, label: `p11kms:${randomUUID()}:${versionId}` }),
      { type: CKA_COPYABLE, value: false },
    ]);
    const sealed = await hsm.encrypt(versionId, Buffer.from('not copyable'), Buffer.alloc(0));
    expect((await hsm.decrypt(versionId, sealed, Buffer.alloc(0))).toString()).toBe('not copyable');
    expect(raw.copies(versionId)).toHaveLength(0);
    await hsm.destroyKey(versionId);
    await expect(encryptOnce(hsm, versionId)).rejects.toBeInstanceOf(HsmKeyNotFoundError);
  });
});
