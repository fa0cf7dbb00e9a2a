import type { EncryptionAlgorithm, KeySpec, KeyUsage } from './key.js';

/**
 * What each key spec is and may do, after the AWS KMS Developer Guide ("Key spec reference"):
 * the usages a spec accepts at CreateKey, and the algorithms of each usage. Operations and
 * DescribeKey read this table instead of switching on key types (STYLE.md, habit 3); whether the
 * token can actually run an algorithm is the HSM adapter's capability discovery, not a fact here.
 */
export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512',
  'ED25519_SHA_512',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];

export const KEY_AGREEMENT_ALGORITHMS = ['ECDH'] as const;
export type KeyAgreementAlgorithm = (typeof KEY_AGREEMENT_ALGORITHMS)[number];

export const MESSAGE_TYPES = ['RAW', 'DIGEST'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** GenerateDataKeyPair's KeyPairSpec values served here (AWS also lists SM2, China Regions only). */
export const DATA_KEY_PAIR_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
] as const;
export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number];

/** Every algorithm name a token may or may not be able to run (capability discovery reports these). */
export type Algorithm = EncryptionAlgorithm | SigningAlgorithm | MacAlgorithm | KeyAgreementAlgorithm;

export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
export const HASH_BYTES: Readonly<Record<HashName, number>> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** The algorithms a key of one spec and usage offers (KeyMetadata's *Algorithms lists). */
export interface AlgorithmLists {
  readonly encryptionAlgorithms: readonly EncryptionAlgorithm[];
  readonly signingAlgorithms: readonly SigningAlgorithm[];
  readonly macAlgorithms: readonly MacAlgorithm[];
  readonly keyAgreementAlgorithms: readonly KeyAgreementAlgorithm[];
}

export interface KeySpecFacts {
  readonly family: 'SYMMETRIC' | 'RSA' | 'EC' | 'EDWARDS' | 'HMAC';
  /** The usages CreateKey accepts for this spec; the first is the default. */
  readonly usages: Partial<Record<KeyUsage, Partial<AlgorithmLists>>>;
  /** RSA: the modulus in bytes (k in RFC 8017). */
  readonly modulusBytes?: number;
  /** EC: the OpenSSL curve name (what node:crypto reports as namedCurve). */
  readonly curve?: string;
  /** EC: the size of one coordinate, and of r and s in a signature. */
  readonly coordinateBytes?: number;
  /** HMAC: the key length in bytes (AWS: the spec's number of bits). */
  readonly secretBytes?: number;
}

const RSA_SIGNING: SigningAlgorithm[] = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
];
const RSA_ENCRYPTION: EncryptionAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];

const rsa = (modulusBytes: number): KeySpecFacts => ({
  family: 'RSA',
  modulusBytes,
  usages: { ENCRYPT_DECRYPT: { encryptionAlgorithms: RSA_ENCRYPTION }, SIGN_VERIFY: { signingAlgorithms: RSA_SIGNING } },
});
const ecc = (curve: string, coordinateBytes: number, signing: SigningAlgorithm): KeySpecFacts => ({
  family: 'EC',
  curve,
  coordinateBytes,
  usages: { SIGN_VERIFY: { signingAlgorithms: [signing] }, KEY_AGREEMENT: { keyAgreementAlgorithms: ['ECDH'] } },
});
const hmac = (secretBytes: number, mac: MacAlgorithm): KeySpecFacts => ({
  family: 'HMAC',
  secretBytes,
  usages: { GENERATE_VERIFY_MAC: { macAlgorithms: [mac] } },
});

export const KEY_SPEC_FACTS: Readonly<Record<KeySpec, KeySpecFacts>> = {
  SYMMETRIC_DEFAULT: { family: 'SYMMETRIC', usages: { ENCRYPT_DECRYPT: { encryptionAlgorithms: ['SYMMETRIC_DEFAULT'] } } },
  RSA_2048: rsa(256),
  RSA_3072: rsa(384),
  RSA_4096: rsa(512),
  ECC_NIST_P256: ecc('prime256v1', 32, 'ECDSA_SHA_256'),
  ECC_NIST_P384: ecc('secp384r1', 48, 'ECDSA_SHA_384'),
  ECC_NIST_P521: ecc('secp521r1', 66, 'ECDSA_SHA_512'),
  ECC_SECG_P256K1: ecc('secp256k1', 32, 'ECDSA_SHA_256'),
  ECC_NIST_EDWARDS25519: { family: 'EDWARDS', coordinateBytes: 32, usages: { SIGN_VERIFY: { signingAlgorithms: ['ED25519_SHA_512'] } } },
  HMAC_224: hmac(28, 'HMAC_SHA_224'),
  HMAC_256: hmac(32, 'HMAC_SHA_256'),
  HMAC_384: hmac(48, 'HMAC_SHA_384'),
  HMAC_512: hmac(64, 'HMAC_SHA_512'),
};

/**
 * How each signing algorithm treats the message. `hash` is computed on the host for RAW messages
 * (tokens such as SoftHSM2 have no CKM_ECDSA_SHA256, and one path for all keeps RAW and DIGEST
 * identical); an algorithm without `hash` signs the message itself and takes RAW only
 * (ED25519_SHA_512 is PureEdDSA, RFC 8032 §5.1).
 */
export const SIGNING_ALGORITHM_FACTS: Readonly<Record<SigningAlgorithm, { readonly hash?: HashName }>> = {
  RSASSA_PSS_SHA_256: { hash: 'sha256' },
  RSASSA_PSS_SHA_384: { hash: 'sha384' },
  RSASSA_PSS_SHA_512: { hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { hash: 'sha512' },
  ECDSA_SHA_256: { hash: 'sha256' },
  ECDSA_SHA_384: { hash: 'sha384' },
  ECDSA_SHA_512: { hash: 'sha512' },
  ED25519_SHA_512: {},
};

export const MAC_ALGORITHM_HASH: Readonly<Record<MacAlgorithm, HashName>> = {
  HMAC_SHA_224: 'sha224',
  HMAC_SHA_256: 'sha256',
  HMAC_SHA_384: 'sha384',
  HMAC_SHA_512: 'sha512',
};

export const OAEP_HASH: Readonly<Record<'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256', HashName>> = {
  RSAES_OAEP_SHA_1: 'sha1',
  RSAES_OAEP_SHA_256: 'sha256',
};

/** The usages a spec accepts, the default first (AWS CreateKey: KeyUsage defaults to ENCRYPT_DECRYPT). */
export function usagesFor(spec: KeySpec): KeyUsage[] {
  return Object.keys(KEY_SPEC_FACTS[spec].usages) as KeyUsage[];
}

/** The algorithms a key of this spec and usage offers, before asking what the token can do. */
export function algorithmListsFor(spec: KeySpec, usage: KeyUsage): AlgorithmLists {
  const lists = KEY_SPEC_FACTS[spec].usages[usage] ?? {};
  return {
    encryptionAlgorithms: lists.encryptionAlgorithms ?? [],
    signingAlgorithms: lists.signingAlgorithms ?? [],
    macAlgorithms: lists.macAlgorithms ?? [],
    keyAgreementAlgorithms: lists.keyAgreementAlgorithms ?? [],
  };
}

/**
 * The largest plaintext RSAES-OAEP takes: k − 2·hLen − 2 bytes (RFC 8017 §7.1.1), so RSA_2048
 * takes 214 bytes with SHA-1 and 190 with SHA-256, as the AWS KMS key spec reference lists.
 */
export function maxOaepPlaintextBytes(spec: KeySpec, algorithm: keyof typeof OAEP_HASH): number {
  const k = KEY_SPEC_FACTS[spec].modulusBytes ?? 0;
  return k - 2 * HASH_BYTES[OAEP_HASH[algorithm]] - 2;
}

/** Asymmetric keys cannot be rotated in AWS KMS; HMAC keys are not rotated either. */
export function isRotatable(spec: KeySpec): boolean {
  return KEY_SPEC_FACTS[spec].family === 'SYMMETRIC';
}

export function hasPublicKey(spec: KeySpec): boolean {
  const family = KEY_SPEC_FACTS[spec].family;
  return family === 'RSA' || family === 'EC' || family === 'EDWARDS';
}
