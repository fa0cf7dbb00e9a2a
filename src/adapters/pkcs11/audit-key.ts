import pkcs11js from 'pkcs11js';
import type { Template } from './templates.js';

/**
 * The ledger's checkpoint key (issue 6, item 4): one ECDSA P-256 key pair per token, created once
 * and found again on every start by its fixed CKA_ID and CKA_LABEL. It signs nothing but checkpoint
 * digests, and its private half is as custody-bound as any KMS key (DESIGN.md, invariant 1).
 */
export const AUDIT_KEY_LABEL = 'p11kms:audit-signing-key:v1';
/** ASCII 'p11kms-audit-v1', so an object listing shows what it is. */
export const AUDIT_KEY_ID = Buffer.from('p11kms-audit-v1', 'ascii');

/** DER of the OID prime256v1 / secp256r1 (1.2.840.10045.3.1.7), the CKA_EC_PARAMS of a P-256 key. */
export const P256_EC_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/** Sensitive, never extractable, a private token object that can only sign (PKCS#11 v2.40 §2.3.6). */
export function auditPrivateKeyTemplate(): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_SIGN, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    { type: pkcs11js.CKA_ID, value: AUDIT_KEY_ID },
    { type: pkcs11js.CKA_LABEL, value: AUDIT_KEY_LABEL },
  ];
}

export function auditPublicKeyTemplate(): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VERIFY, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    { type: pkcs11js.CKA_EC_PARAMS, value: P256_EC_PARAMS },
    { type: pkcs11js.CKA_ID, value: AUDIT_KEY_ID },
    { type: pkcs11js.CKA_LABEL, value: AUDIT_KEY_LABEL },
  ];
}

/** Finds one half of the audit key pair. */
export function auditKeySearch(objectClass: number): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: objectClass },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_ID, value: AUDIT_KEY_ID },
    { type: pkcs11js.CKA_LABEL, value: AUDIT_KEY_LABEL },
  ];
}

const P256_COORDINATE_BYTES = 32;
const UNCOMPRESSED_POINT_BYTES = 1 + 2 * P256_COORDINATE_BYTES;

/**
 * SubjectPublicKeyInfo (RFC 5480 §2) for an uncompressed P-256 point: everything before the point
 * is fixed — SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }.
 */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * CKA_EC_POINT → SubjectPublicKeyInfo DER. PKCS#11 v2.40 §2.3.3 says the attribute is the DER
 * encoding of an ECPoint (an OCTET STRING wrapping X9.62's 0x04‖X‖Y); some tokens return the bare
 * point instead, so both are accepted.
 */
export function p256PublicKeySpki(ecPoint: Buffer): Buffer {
  let point = ecPoint;
  if (ecPoint.length === UNCOMPRESSED_POINT_BYTES + 2 && ecPoint[0] === 0x04 && ecPoint[1] === UNCOMPRESSED_POINT_BYTES) {
    point = ecPoint.subarray(2);
  }
  if (point.length !== UNCOMPRESSED_POINT_BYTES || point[0] !== 0x04) {
    throw new Error('the audit key CKA_EC_POINT is not an uncompressed P-256 point');
  }
  return Buffer.concat([P256_SPKI_PREFIX, point]);
}

// The DER conversion is shared with every KMS key's ECDSA signatures.
export { ecdsaRawToDer } from './public-key-der.js';
