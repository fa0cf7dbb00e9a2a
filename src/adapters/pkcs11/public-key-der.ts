import { createPublicKey, type JsonWebKey } from 'node:crypto';

/**
 * Public-key encodings between PKCS#11 attributes and the DER forms AWS KMS speaks: SubjectPublicKeyInfo
 * (RFC 5280 §4.1.2.7) for GetPublicKey, Ecdsa-Sig-Value (RFC 3279 §2.2.3) for ECDSA signatures.
 * Only public values pass through here; no private key material ever does.
 */

/** RSA: CKA_MODULUS and CKA_PUBLIC_EXPONENT → SPKI (rsaEncryption, RFC 8017 Appendix A.1.1). */
export function rsaSpki(modulus: Buffer, publicExponent: Buffer): Buffer {
  return spkiOfJwk({ kty: 'RSA', n: unsigned(modulus).toString('base64url'), e: unsigned(publicExponent).toString('base64url') });
}

/** EC: an uncompressed point on the named curve (JWK crv name) → SPKI (id-ecPublicKey, RFC 5480 §2). */
export function ecSpki(jwkCurve: string, point: Buffer, coordinateBytes: number): Buffer {
  const x = point.subarray(1, 1 + coordinateBytes);
  const y = point.subarray(1 + coordinateBytes);
  return spkiOfJwk({ kty: 'EC', crv: jwkCurve, x: x.toString('base64url'), y: y.toString('base64url') });
}

/** Ed25519: the 32-byte public key → SPKI (id-Ed25519, RFC 8410 §4). */
export function ed25519Spki(publicKey: Buffer): Buffer {
  return spkiOfJwk({ kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') });
}

function spkiOfJwk(jwk: JsonWebKey): Buffer {
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' });
}

function unsigned(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/**
 * CKA_EC_POINT → the bare point. PKCS#11 v2.40 §2.3.3 makes the attribute the DER encoding of an
 * ECPoint (an OCTET STRING around X9.62's 0x04‖X‖Y, or the 32 bytes of an Ed25519 key); some tokens
 * return the bare point, so both are accepted. A raw point can also begin with 0x04, hence the length test.
 */
export function unwrapEcPoint(attribute: Buffer, pointBytes: number): Buffer {
  if (attribute.length === pointBytes) return attribute;
  if (attribute[0] === 0x04) {
    const header = attribute[1]! < 0x80 ? 2 : 2 + (attribute[1]! & 0x7f);
    const inner = attribute.subarray(header);
    if (inner.length === pointBytes) return inner;
  }
  throw new Error('CKA_EC_POINT does not hold a point of the expected size');
}

/**
 * CKM_ECDSA's signature is r‖s, each the size of the group order (PKCS#11 v2.40 §2.3.1); X.509,
 * OpenSSL and AWS KMS use Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3).
 */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new Error('an ECDSA r‖s signature has an even, non-zero length');
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/**
 * Ecdsa-Sig-Value → r‖s, each left-padded to `coordinateBytes`; undefined for anything that is not
 * strict DER of two positive integers that fit (such a signature cannot verify, so Verify says so).
 */
export function ecdsaDerToRaw(der: Buffer, coordinateBytes: number): Buffer | undefined {
  const sequence = readTlv(der, 0, 0x30);
  if (!sequence || sequence.end !== der.length) return undefined;
  const r = readTlv(der, sequence.start, 0x02);
  const s = r && readTlv(der, r.end, 0x02);
  if (!r || !s || s.end !== sequence.end) return undefined;
  const out = Buffer.alloc(2 * coordinateBytes);
  for (const [index, integer] of [r, s].entries()) {
    let value = der.subarray(integer.start, integer.end);
    if (value.length === 0 || (value[0]! & 0x80) !== 0) return undefined;
    if (value.length > 1 && value[0] === 0 && (value[1]! & 0x80) === 0) return undefined; // not minimal
    if (value[0] === 0) value = value.subarray(1);
    if (value.length > coordinateBytes) return undefined;
    value.copy(out, (index + 1) * coordinateBytes - value.length);
  }
  return out;
}

function readTlv(der: Buffer, offset: number, tag: number): { start: number; end: number } | undefined {
  if (der[offset] !== tag || offset + 1 >= der.length) return undefined;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length >= 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 2 || start + count > der.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | der[start + i]!;
    if (length < 0x80) return undefined; // not minimal
    start += count;
  }
  const end = start + length;
  return end <= der.length ? { start, end } : undefined;
}

/** A DER INTEGER of an unsigned big-endian number: minimal, with a 0x00 byte when the top bit is set. */
function derInteger(unsignedValue: Buffer): Buffer {
  const digits = unsigned(unsignedValue);
  const value = (digits[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits;
  return Buffer.concat([Buffer.from([0x02]), derLength(value.length), value]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
