import pkcs11js from 'pkcs11js';
import type { SymmetricKeyTemplate } from '../../ports/hsm.js';
import { uuidToBytes } from '../../domain/ciphertext.js';

export type Template = pkcs11js.Template;

/**
 * A KMS key version: AES-256 living only in the token. Sensitive and not extractable
 * (DESIGN.md, invariant 1), private to the logged-in user, and usable for encrypt/decrypt only.
 */
export function aes256KeyTemplate(key: SymmetricKeyTemplate): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_VERIFY, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    { type: pkcs11js.CKA_ID, value: uuidToBytes(key.versionId) },
    { type: pkcs11js.CKA_LABEL, value: key.label },
  ];
}

/** Finds a key version's object by CKA_ID (DESIGN.md: objects are found by the key-version id). */
export function byVersionId(versionId: string): Template {
  return [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_ID, value: uuidToBytes(versionId) },
  ];
}

export const CUSTODY_ATTRIBUTES = [
  pkcs11js.CKA_LABEL,
  pkcs11js.CKA_TOKEN,
  pkcs11js.CKA_PRIVATE,
  pkcs11js.CKA_SENSITIVE,
  pkcs11js.CKA_EXTRACTABLE,
  pkcs11js.CKA_ENCRYPT,
  pkcs11js.CKA_DECRYPT,
  pkcs11js.CKA_SIGN,
  pkcs11js.CKA_VERIFY,
  pkcs11js.CKA_DERIVE,
  pkcs11js.CKA_WRAP,
  pkcs11js.CKA_UNWRAP,
];

/**
 * C_CopyObject's template for a working copy (VendorProfile.workingCopies): a session object, all
 * else as the token object. A copy may make a key more sensitive or less extractable, never the
 * reverse (PKCS#11 v2.40 §5.7, C_CopyObject), so it is as bound to the token as its source;
 * SoftHSM2 refuses even restating CKA_SENSITIVE or CKA_EXTRACTABLE (CKR_ATTRIBUTE_READ_ONLY).
 */
export const WORKING_COPY_TEMPLATE: Template = [{ type: pkcs11js.CKA_TOKEN, value: false }];
