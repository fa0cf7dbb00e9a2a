import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecdsaRawToDer, p256PublicKeySpki } from '../../../src/adapters/pkcs11/audit-key.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spki = publicKey.export({ type: 'spki', format: 'der' });
const point = spki.subarray(spki.length - 65);

describe('the audit key encodings (PKCS#11 → X.509 / node:crypto)', () => {
  it('turns CKM_ECDSA r‖s into the DER Ecdsa-Sig-Value node:crypto verifies', () => {
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`payload ${i}`);
      const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const der = ecdsaRawToDer(raw);
      expect(der.equals(sign('sha256', data, { key: privateKey, dsaEncoding: 'der' }))).toBe(false); // fresh k
      expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
    }
  });

  it('keeps integers minimal and positive: leading zeros dropped, a 0x00 before a high bit', () => {
    const raw = Buffer.concat([Buffer.alloc(31), Buffer.from([0x01]), Buffer.from([0x80]), Buffer.alloc(31, 0x11)]);
    expect(ecdsaRawToDer(raw).toString('hex')).toBe(`3026020101022100${'80'}${'11'.repeat(31)}`);
    expect(() => ecdsaRawToDer(Buffer.alloc(63))).toThrow();
  });

  it('builds the SubjectPublicKeyInfo from CKA_EC_POINT, DER-wrapped or bare', () => {
    const wrapped = Buffer.concat([Buffer.from([0x04, 0x41]), point]);
    expect(p256PublicKeySpki(wrapped).equals(spki)).toBe(true);
    expect(p256PublicKeySpki(point).equals(spki)).toBe(true);
    const key = createPublicKey({ key: p256PublicKeySpki(wrapped), format: 'der', type: 'spki' });
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(() => p256PublicKeySpki(point.subarray(1))).toThrow(/uncompressed P-256/);
  });
});
