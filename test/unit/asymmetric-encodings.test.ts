import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenCapabilities } from '../../src/adapters/pkcs11/mechanisms.js';
import { decodeOaep } from '../../src/adapters/pkcs11/oaep.js';
import { ecdsaDerToRaw, ecdsaRawToDer } from '../../src/adapters/pkcs11/public-key-der.js';
import { PROFILES } from '../../src/adapters/pkcs11/vendor-profiles.js';
import { maxOaepPlaintextBytes } from '../../src/domain/key-spec-facts.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
/** The encoded message a token's raw RSA private operation (CKM_RSA_X_509) returns. */
const rawDecrypt = (ciphertext: Buffer) => privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);

describe('host-side OAEP decoding after a raw RSA operation (RFC 8017 §7.1.2)', () => {
  it.each(['sha1', 'sha256'] as const)('decodes what OpenSSL encodes with %s, up to the AWS limit', (hash) => {
    const limit = maxOaepPlaintextBytes('RSA_2048', hash === 'sha1' ? 'RSAES_OAEP_SHA_1' : 'RSAES_OAEP_SHA_256');
    for (const length of [1, 17, limit]) {
      const plaintext = randomBytes(length);
      const ciphertext = publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
      expect(decodeOaep(rawDecrypt(ciphertext), hash, 256)).toEqual(plaintext);
    }
  });

  it('gives the same undefined for a wrong hash, a changed byte, a stripped or a non-zero first byte', () => {
    const ciphertext = publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('x'));
    const em = rawDecrypt(ciphertext);
    expect(decodeOaep(em, 'sha1', 256)).toBeUndefined();
    for (const index of [0, 1, 40, 255]) {
      const changed = Buffer.from(em);
      changed[index]! ^= 0x01;
      expect(decodeOaep(changed, 'sha256', 256)).toBeUndefined();
    }
    expect(decodeOaep(Buffer.alloc(257), 'sha256', 256)).toBeUndefined();
    expect(decodeOaep(randomBytes(256), 'sha256', 256)).toBeUndefined();
    // A token that strips the leading zero byte still decodes.
    expect(decodeOaep(em.subarray(1), 'sha256', 256)?.toString()).toBe('x');
  });
});

describe('ECDSA signature encodings', () => {
  it('turns r‖s into DER and back, for P-256 and P-521', () => {
    for (const [curve, size] of [['prime256v1', 32], ['secp521r1', 66]] as const) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      for (let i = 0; i < 20; i++) {
        const der = sign('sha256', Buffer.from(`m${i}`), { key: privateKey, dsaEncoding: 'der' });
        const raw = ecdsaDerToRaw(der, size)!;
        expect(raw).toHaveLength(2 * size);
        expect(ecdsaRawToDer(raw)).toEqual(der);
      }
    }
  });

  it('refuses what is not strict DER', () => {
    expect(ecdsaDerToRaw(Buffer.from('3006020101020101', 'hex'), 32)?.length).toBe(64);
    expect(ecdsaDerToRaw(Buffer.from('300602010102010100', 'hex'), 32)).toBeUndefined(); // trailing byte
    expect(ecdsaDerToRaw(Buffer.from('30060201ff020101', 'hex'), 32)).toBeUndefined(); // negative r
    expect(ecdsaDerToRaw(Buffer.from('30070202000102 0101'.replace(' ', ''), 'hex'), 32)).toBeUndefined(); // not minimal
    expect(ecdsaDerToRaw(Buffer.concat([Buffer.from('3025022101', 'hex'), Buffer.alloc(32, 1), Buffer.from('020101', 'hex')]), 32)).toBeUndefined(); // r too long
    expect(ecdsaDerToRaw(Buffer.from('junk'), 32)).toBeUndefined();
  });
});

describe('capability discovery from the mechanism list', () => {
  const CKM = { RSA_PKCS_KEY_PAIR_GEN: 0x0, RSA_PKCS: 0x1, RSA_X_509: 0x3, RSA_PKCS_OAEP: 0x9, RSA_PKCS_PSS: 0xd, EC_KEY_PAIR_GEN: 0x1040, ECDSA: 0x1041, ECDH1_DERIVE: 0x1050, EDDSA: 0x1057, EC_EDWARDS_KEY_PAIR_GEN: 0x1055 };

  it('offers OAEP SHA-256 through host decoding only when the profile says so', () => {
    const mechanisms = [CKM.RSA_PKCS_KEY_PAIR_GEN, CKM.RSA_X_509, CKM.RSA_PKCS_OAEP];
    const decoding = new TokenCapabilities(mechanisms, PROFILES.softhsm2);
    expect(decoding.supportsAlgorithm('RSAES_OAEP_SHA_256')).toBe(true);
    const strict = new TokenCapabilities(mechanisms, { ...PROFILES.softhsm2, oaepHostDecoding: false });
    expect(strict.supportsAlgorithm('RSAES_OAEP_SHA_256')).toBe(false);
    expect(strict.supportsAlgorithm('RSAES_OAEP_SHA_1')).toBe(true);
    expect(strict.supportsKey('RSA_2048', 'ENCRYPT_DECRYPT')).toBe(true);
    expect(strict.supportsKey('RSA_2048', 'SIGN_VERIFY')).toBe(false);
  });

  it('needs the generation and the use mechanism of a spec', () => {
    const ec = new TokenCapabilities([CKM.EC_KEY_PAIR_GEN, CKM.ECDSA], PROFILES.generic);
    expect(ec.supportsKey('ECC_NIST_P384', 'SIGN_VERIFY')).toBe(true);
    expect(ec.supportsKey('ECC_NIST_P384', 'KEY_AGREEMENT')).toBe(false);
    expect(ec.supportsKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY')).toBe(false);
    expect(ec.supportsKey('HMAC_256', 'GENERATE_VERIFY_MAC')).toBe(false);
    const ed = new TokenCapabilities([CKM.EC_EDWARDS_KEY_PAIR_GEN, CKM.EDDSA], PROFILES.generic);
    expect(ed.supportsKey('ECC_NIST_EDWARDS25519', 'SIGN_VERIFY')).toBe(true);
  });
});
