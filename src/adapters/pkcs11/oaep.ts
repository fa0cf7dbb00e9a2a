import { createHash, timingSafeEqual } from 'node:crypto';
import { HASH_BYTES, type HashName } from '../../domain/key-spec-facts.js';

/**
 * EME-OAEP decoding (RFC 8017 §7.1.2 step 3) on the host, after the token has done the raw RSA
 * private-key operation (CKM_RSA_X_509): for tokens whose CKM_RSA_PKCS_OAEP takes SHA-1 only
 * (SoftHSM2 2.6.1 answers CKR_ARGUMENTS_BAD to SHA-256). The private key never leaves the token;
 * the host sees only the encoded message, which the caller could compute from the plaintext anyway.
 *
 * Manger's attack (CRYPTO 2001) needs to tell "first byte not zero" from the other failures, so
 * every check is folded into one flag without data-dependent branches, and every failure gives
 * the same answer (undefined), which the caller reports as one uniform error (RFC 8017 §7.1.2 note).
 */
export function decodeOaep(encoded: Buffer, hash: HashName, modulusBytes: number, label = Buffer.alloc(0)): Buffer | undefined {
  const hLen = HASH_BYTES[hash];
  if (modulusBytes < 2 * hLen + 2) return undefined;
  // Some tokens strip leading zero bytes of the raw result: put them back (the length is public).
  const em = Buffer.alloc(modulusBytes);
  if (encoded.length > modulusBytes) return undefined;
  encoded.copy(em, modulusBytes - encoded.length);

  const lHash = createHash(hash).update(label).digest();
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seed = xor(maskedSeed, mgf1(hash, maskedDb, hLen));
  const db = xor(maskedDb, mgf1(hash, seed, modulusBytes - hLen - 1));

  let bad = em[0]! | (timingSafeEqual(lHash, db.subarray(0, hLen)) ? 0 : 1);
  let found = 0;
  let index = 0;
  for (let i = hLen; i < db.length; i++) {
    const byte = db[i]!;
    const isOne = ((byte ^ 1) - 1) >>> 31; // 1 when byte === 0x01
    const isZero = (byte - 1) >>> 31; // 1 when byte === 0x00
    const before = found ^ 1;
    index |= -(before & isOne) & i;
    bad |= (before & (isOne | isZero)) ^ before; // a byte other than 0x00 before the 0x01
    found |= isOne;
  }
  bad |= found ^ 1;
  const message = Buffer.from(db.subarray(index + 1));
  db.fill(0);
  seed.fill(0);
  em.fill(0);
  if (bad !== 0) {
    message.fill(0);
    return undefined;
  }
  return message;
}

/** MGF1 (RFC 8017 Appendix B.2.1). */
function mgf1(hash: HashName, seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let offset = 0, c = 0; offset < length; c++) {
    counter.writeUInt32BE(c);
    const block = createHash(hash).update(seed).update(counter).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
