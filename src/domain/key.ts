/** The key model, named as in the AWS KMS API reference (KeyMetadata). */

export const KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const KEY_STATES = [
  'Creating', 'Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'Unavailable', 'Updating',
] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** Token-generated keys carry AWS's name for KMS-generated material. */
export type KeyOrigin = 'AWS_KMS';

export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];

export type DataKeySpec = 'AES_128' | 'AES_256';

export interface Tag {
  readonly tagKey: string;
  readonly tagValue: string;
}

/** One generation of a key's material. Its id is the token object's CKA_ID. */
export interface KeyVersion {
  readonly id: string;
  readonly keyId: string;
  readonly createdAt: Date;
}

export interface KeyRecord {
  readonly id: string;
  readonly arn: string;
  readonly account: string;
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsage;
  readonly origin: KeyOrigin;
  readonly description: string;
  readonly state: KeyState;
  readonly createdAt: Date;
  readonly deletionDate: Date | undefined;
  /** The version Encrypt uses; Decrypt uses whichever version the ciphertext names. */
  readonly currentVersionId: string;
}
