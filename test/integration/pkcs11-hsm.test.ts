import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Pkcs11Hsm } from '../../src/adapters/pkcs11/pkcs11-hsm.js';
import { HsmAuthenticationError, HsmKeyNotFoundError } from '../../src/ports/hsm.js';
import { freshToken, listObjectsWithPkcs11Tool, type TestToken } from '../support/softhsm.js';
import { p99EventLoopDelayDuring } from '../support/event-loop.js';

let token: TestToken;
let hsm: Pkcs11Hsm;

async function newKey(): Promise<string> {
  const versionId = randomUUID();
  await hsm.generateSymmetricKey({ versionId, label: `p11kms:${randomUUID()}:${versionId}` });
  return versionId;
}

beforeAll(async () => {
  token = freshToken();
  hsm = await Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.pin });
});
afterAll(async () => hsm?.close());

describe('Pkcs11Hsm on a real SoftHSM2 token', () => {
  it('detects the SoftHSM2 vendor profile from the token', () => {
    expect(hsm.profile.name).toBe('softhsm2');
  });

  it('names a missing token clearly', async () => {
    await expect(
      Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: 'no-such-token', pin: token.pin }),
    ).rejects.toThrow(/no PKCS#11 token labelled 'no-such-token'/);
  });

  it('encrypts and decrypts with AES-256-GCM inside the token, binding the AAD', async () => {
    const versionId = await newKey();
    const plaintext = Buffer.from('attack at dawn');
    const aad = Buffer.from('context');
    const sealed = await hsm.encrypt(versionId, plaintext, aad);
    expect(sealed.iv).toHaveLength(12);
    expect(sealed.ciphertextAndTag).toHaveLength(plaintext.length + 16);
    expect(sealed.ciphertextAndTag.includes(plaintext)).toBe(false);
    expect(await hsm.decrypt(versionId, sealed, aad)).toEqual(plaintext);
    await expect(hsm.decrypt(versionId, sealed, Buffer.from('other'))).rejects.toBeInstanceOf(HsmAuthenticationError);
    const altered = Buffer.from(sealed.ciphertextAndTag);
    altered[0]! ^= 0x01;
    await expect(hsm.decrypt(versionId, { iv: sealed.iv, ciphertextAndTag: altered }, aad)).rejects.toBeInstanceOf(
      HsmAuthenticationError,
    );
  });

  it('runs the calls of one turn as one batch on the token: each gets its own answer, a bad tag fails only its own', async () => {
    const [first, second] = [await newKey(), await newKey()];
    const aad = Buffer.from('batch');
    // Queued in the same turn, so they share one batch (turn-batch.ts), over two keys.
    const plaintexts = Array.from({ length: 40 }, (_, i) => Buffer.from(`message ${i}`));
    const sealed = await Promise.all(plaintexts.map((p, i) => hsm.encrypt(i % 2 ? first : second, p, aad)));
    const tampered = { iv: sealed[7]!.iv, ciphertextAndTag: Buffer.from(sealed[7]!.ciphertextAndTag) };
    tampered.ciphertextAndTag[0]! ^= 0x80;
    const opened = await Promise.allSettled(
      sealed.map((s, i) => hsm.decrypt(i % 2 ? first : second, i === 7 ? tampered : s, aad)),
    );
    opened.forEach((result, i) => {
      if (i === 7) expect(result).toMatchObject({ status: 'rejected', reason: expect.any(HsmAuthenticationError) });
      else expect(result).toEqual({ status: 'fulfilled', value: plaintexts[i] });
    });
    // The failed call left no operation active on the shared session: the next batch works.
    expect(await hsm.decrypt(first, sealed[1]!, aad)).toEqual(plaintexts[1]);
  });

  it('uses a fresh IV for every encryption', async () => {
    const versionId = await newKey();
    const ivs = new Set<string>();
    for (let i = 0; i < 200; i++) ivs.add((await hsm.encrypt(versionId, Buffer.from('x'), Buffer.alloc(0))).iv.toString('hex'));
    expect(ivs.size).toBe(200);
  });

  it('creates keys that are sensitive, not extractable, private token objects for encrypt/decrypt only', async () => {
    const versionId = await newKey();
    expect(await hsm.describeKeyObject(versionId)).toMatchObject({
      token: true,
      private: true,
      sensitive: true,
      extractable: false,
      encrypt: true,
      decrypt: true,
    });
    // OpenSC's pkcs11-tool, independent of our code, sees the same.
    const listing = listObjectsWithPkcs11Tool(token);
    const block = listing.split(/\n(?=\S)/).find((entry) => entry.includes(versionId.replaceAll('-', '')));
    expect(block).toBeDefined();
    expect(block).toMatch(/Secret Key Object; AES length 32/);
    expect(block).toMatch(/Usage:\s+encrypt, decrypt\n/);
    const access = /Access:\s+(.*)/.exec(block!)![1]!.split(', ');
    expect(access).toContain('sensitive');
    expect(access).toContain('never extractable');
    expect(access).not.toContain('extractable');
  });

  it('finds objects by CKA_ID after its handle cache is cold (a second Hsm instance)', async () => {
    const versionId = await newKey();
    const sealed = await hsm.encrypt(versionId, Buffer.from('cold'), Buffer.alloc(0));
    const second = await Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.pin });
    try {
      expect((await second.decrypt(versionId, sealed, Buffer.alloc(0))).toString()).toBe('cold');
    } finally {
      await second.close();
    }
  });

  it('finds, after its one-time index of the token, a key made since by another instance (another replica)', async () => {
    const second = await Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.pin });
    try {
      const before = await newKey();
      const sealedBefore = await hsm.encrypt(before, Buffer.from('indexed'), Buffer.alloc(0));
      expect((await second.decrypt(before, sealedBefore, Buffer.alloc(0))).toString()).toBe('indexed'); // miss: the index
      const after = await newKey();
      const sealedAfter = await hsm.encrypt(after, Buffer.from('found'), Buffer.alloc(0));
      expect((await second.decrypt(after, sealedAfter, Buffer.alloc(0))).toString()).toBe('found'); // miss: a search
      await expect(second.encrypt(randomUUID(), Buffer.from('x'), Buffer.alloc(0))).rejects.toBeInstanceOf(HsmKeyNotFoundError);
    } finally {
      await second.close();
    }
  });

  it('destroys a key version: it can no longer be found or used', async () => {
    const versionId = await newKey();
    await hsm.destroyKey(versionId);
    expect(await hsm.describeKeyObject(versionId)).toBeUndefined();
    await expect(hsm.encrypt(versionId, Buffer.from('x'), Buffer.alloc(0))).rejects.toBeInstanceOf(HsmKeyNotFoundError);
  });

  it('gives random bytes from the token, of the requested length', async () => {
    const a = await hsm.random(1024);
    const b = await hsm.random(1024);
    expect(a).toHaveLength(1024);
    expect(a.equals(b)).toBe(false);
  });

  it('keeps the event loop free (p99 delay < 5 ms) with many crypto calls and key generations in flight', async () => {
    const keys = await Promise.all(Array.from({ length: 4 }, () => newKey()));
    const plaintext = Buffer.alloc(1024, 7);
    let completed = 0;
    const p99 = await p99EventLoopDelayDuring(async () => {
      const deadline = Date.now() + 1500;
      const worker = async (i: number) => {
        while (Date.now() < deadline) {
          // Each request starts as its own event-loop task, as a gRPC call does. Without this, calls
          // that complete synchronously (profile.symmetricCalls 'sync') settle their awaits as
          // microtasks, the loops never let the event loop turn, and the histogram records nothing.
          await new Promise((resolve) => setImmediate(resolve));
          const versionId = keys[i % keys.length]!;
          const sealed = await hsm.encrypt(versionId, plaintext, Buffer.alloc(0));
          await hsm.decrypt(versionId, sealed, Buffer.alloc(0));
          if (i === 0 && completed % 50 === 0) await newKey();
          completed++;
        }
      };
      // On the sync path one turn of the loop runs the calls of every request waiting, back to back:
      // the delay grows with their number by design (64 at a time measured 5–10 ms here).
      await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i)));
    });
    expect(completed).toBeGreaterThan(100);
    expect(p99).toBeLessThan(5);
  });
});
