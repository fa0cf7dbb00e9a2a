import pkcs11js from 'pkcs11js';
import { uuidToBytes } from '../../domain/ciphertext.js';
import { KEY_SPECS, type KeySpec, type KeyUsage } from '../../domain/key.js';
import {
  algorithmListsFor,
  KEY_SPEC_FACTS,
  type Algorithm,
  type HashName,
  type MacAlgorithm,
  type SigningAlgorithm,
} from '../../domain/key-spec-facts.js';
import type { HsmCapabilities, KeyTemplate, OaepAlgorithm } from '../../ports/hsm.js';
import { aes256KeyTemplate, type Template } from './templates.js';
import type { VendorProfile } from './vendor-profiles.js';

/**
 * The mechanisms table (STYLE.md, habit 3): key specs and algorithms → CKM_* mechanisms, their
 * parameters and attribute templates. Nothing outside this file names a key type.
 */

// PKCS#11 v3.0 §2.3.5–2.3.7 values that pkcs11js 2.1.7 does not export.
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
export const CKK_EC_EDWARDS = 0x40;

/** DER OIDs for CKA_EC_PARAMS (RFC 5480 §2.1.1.1, SEC 2, RFC 8410 §3). */
const EC_PARAMS: Partial<Record<KeySpec, Buffer>> = {
  ECC_NIST_P256: Buffer.from('06082a8648ce3d030107', 'hex'),
  ECC_NIST_P384: Buffer.from('06052b81040022', 'hex'),
  ECC_NIST_P521: Buffer.from('06052b81040023', 'hex'),
  ECC_SECG_P256K1: Buffer.from('06052b8104000a', 'hex'),
  ECC_NIST_EDWARDS25519: Buffer.from('06032b6570', 'hex'),
};

/** The JWK curve names node:crypto uses to build a SubjectPublicKeyInfo. */
export const JWK_CURVES: Partial<Record<KeySpec, string>> = {
  ECC_NIST_P256: 'P-256',
  ECC_NIST_P384: 'P-384',
  ECC_NIST_P521: 'P-521',
  ECC_SECG_P256K1: 'secp256k1',
};

const HASH_MECHANISMS: Record<HashName, { hash: number; mgf: number; hmac: number }> = {
  sha1: { hash: pkcs11js.CKM_SHA_1, mgf: pkcs11js.CKG_MGF1_SHA1, hmac: pkcs11js.CKM_SHA_1_HMAC },
  sha224: { hash: pkcs11js.CKM_SHA224, mgf: pkcs11js.CKG_MGF1_SHA224, hmac: pkcs11js.CKM_SHA224_HMAC },
  sha256: { hash: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256, hmac: pkcs11js.CKM_SHA256_HMAC },
  sha384: { hash: pkcs11js.CKM_SHA384, mgf: pkcs11js.CKG_MGF1_SHA384, hmac: pkcs11js.CKM_SHA384_HMAC },
  sha512: { hash: pkcs11js.CKM_SHA512, mgf: pkcs11js.CKG_MGF1_SHA512, hmac: pkcs11js.CKM_SHA512_HMAC },
};

/** DigestInfo prefixes for EMSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1): the token pads, the host wraps. */
const DIGEST_INFO_PREFIX: Partial<Record<HashName, Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

interface SigningMechanism {
  /** The mechanism the capability check looks for. */
  readonly required: number;
  /** The mechanism and its parameters for C_SignInit / C_VerifyInit. */
  readonly mechanism: pkcs11js.Mechanism;
  /** What the token signs, from the digest (or message) the operation passes. */
  readonly input: (digestOrMessage: Buffer) => Buffer;
  /** Token output ↔ the AWS wire form. */
  readonly encoding: 'raw' | 'ecdsa-der';
  /**
   * Whether C_SignInit is cheap: an EC or Edwards private key is one scalar, while SoftHSM2 builds
   * an RSA private key from eight encrypted components on every Init. Where the profile allows
   * (VendorProfile.cheapInitsOnLoop), a cheap Init runs on the event loop (Pkcs11Hsm.signWith).
   */
  readonly cheapInit: boolean;
}

const pss = (hash: HashName, bytes: number): SigningMechanism => ({
  required: pkcs11js.CKM_RSA_PKCS_PSS,
  // RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash, as AWS KMS signs.
  mechanism: {
    mechanism: pkcs11js.CKM_RSA_PKCS_PSS,
    parameter: { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: HASH_MECHANISMS[hash].hash, mgf: HASH_MECHANISMS[hash].mgf, saltLen: bytes } as pkcs11js.RsaPSS,
  },
  input: (digest) => digest,
  encoding: 'raw',
  cheapInit: false,
});
const pkcs1 = (hash: HashName): SigningMechanism => ({
  required: pkcs11js.CKM_RSA_PKCS,
  // CKM_RSA_PKCS signs a DigestInfo as given (PKCS#11 v2.40 §2.1.6), which serves RAW and DIGEST alike.
  mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS },
  input: (digest) => Buffer.concat([DIGEST_INFO_PREFIX[hash]!, digest]),
  encoding: 'raw',
  cheapInit: false,
});
const ecdsa: SigningMechanism = {
  required: pkcs11js.CKM_ECDSA,
  mechanism: { mechanism: pkcs11js.CKM_ECDSA },
  input: (digest) => digest,
  encoding: 'ecdsa-der',
  cheapInit: true,
};

export const SIGNING_MECHANISMS: Readonly<Record<SigningAlgorithm, SigningMechanism>> = {
  RSASSA_PSS_SHA_256: pss('sha256', 32),
  RSASSA_PSS_SHA_384: pss('sha384', 48),
  RSASSA_PSS_SHA_512: pss('sha512', 64),
  RSASSA_PKCS1_V1_5_SHA_256: pkcs1('sha256'),
  RSASSA_PKCS1_V1_5_SHA_384: pkcs1('sha384'),
  RSASSA_PKCS1_V1_5_SHA_512: pkcs1('sha512'),
  ECDSA_SHA_256: ecdsa,
  ECDSA_SHA_384: ecdsa,
  ECDSA_SHA_512: ecdsa,
  ED25519_SHA_512: { required: CKM_EDDSA, mechanism: { mechanism: CKM_EDDSA }, input: (message) => message, encoding: 'raw', cheapInit: true },
};

export function macMechanism(algorithm: MacAlgorithm): pkcs11js.Mechanism {
  return { mechanism: MAC_MECHANISMS[algorithm] };
}
const MAC_MECHANISMS: Readonly<Record<MacAlgorithm, number>> = {
  HMAC_SHA_224: pkcs11js.CKM_SHA224_HMAC,
  HMAC_SHA_256: pkcs11js.CKM_SHA256_HMAC,
  HMAC_SHA_384: pkcs11js.CKM_SHA384_HMAC,
  HMAC_SHA_512: pkcs11js.CKM_SHA512_HMAC,
};

/** CKM_RSA_PKCS_OAEP with MGF1 of the same hash and an empty label (AWS KMS RSAES_OAEP_SHA_*). */
export function oaepMechanism(hash: HashName): pkcs11js.Mechanism {
  return {
    mechanism: pkcs11js.CKM_RSA_PKCS_OAEP,
    // source 1 = CKZ_DATA_SPECIFIED with no data: the empty OAEP label.
    parameter: { type: pkcs11js.CK_PARAMS_RSA_OAEP, hashAlg: HASH_MECHANISMS[hash].hash, mgf: HASH_MECHANISMS[hash].mgf, source: 1 } as pkcs11js.RsaOAEP,
  };
}

/** How an OAEP algorithm runs on this token: fully in the token, raw RSA plus host decoding, or not at all. */
export function oaepMode(profile: VendorProfile, algorithm: OaepAlgorithm): 'token' | 'host-decoding' | 'unsupported' {
  if (profile.oaepInToken.includes(algorithm)) return 'token';
  return profile.oaepHostDecoding ? 'host-decoding' : 'unsupported';
}

/** The generation mechanism of each key family. */
function generationMechanism(spec: KeySpec): number {
  switch (KEY_SPEC_FACTS[spec].family) {
    case 'SYMMETRIC': return pkcs11js.CKM_AES_KEY_GEN;
    case 'RSA': return pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN;
    case 'EC': return pkcs11js.CKM_EC_KEY_PAIR_GEN;
    case 'EDWARDS': return CKM_EC_EDWARDS_KEY_PAIR_GEN;
    case 'HMAC': return pkcs11js.CKM_GENERIC_SECRET_KEY_GEN;
  }
}

/** The one usage attribute set true on each half; every other usage attribute is false. */
const USAGE_ATTRIBUTES: Record<KeyUsage, { private: number[]; public: number[] }> = {
  ENCRYPT_DECRYPT: { private: [pkcs11js.CKA_DECRYPT], public: [pkcs11js.CKA_ENCRYPT] },
  SIGN_VERIFY: { private: [pkcs11js.CKA_SIGN], public: [pkcs11js.CKA_VERIFY] },
  GENERATE_VERIFY_MAC: { private: [pkcs11js.CKA_SIGN, pkcs11js.CKA_VERIFY], public: [] },
  KEY_AGREEMENT: { private: [pkcs11js.CKA_DERIVE], public: [] },
};
const PRIVATE_USAGE_ATTRIBUTES = [pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE];
const PUBLIC_USAGE_ATTRIBUTES = [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_VERIFY, pkcs11js.CKA_WRAP, pkcs11js.CKA_DERIVE];

function usage(attributes: number[], enabled: number[]): Template {
  return attributes.map((type) => ({ type, value: enabled.includes(type) }));
}

function identity(key: KeyTemplate): Template {
  return [
    { type: pkcs11js.CKA_ID, value: uuidToBytes(key.versionId) },
    { type: pkcs11js.CKA_LABEL, value: key.label },
  ];
}

/** Sensitive, never extractable, private to the logged-in user (DESIGN.md, invariant 1). */
const CUSTODY: Template = [
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: false },
];

export type Generation =
  | { readonly kind: 'secret'; readonly mechanism: pkcs11js.Mechanism; readonly template: Template }
  | { readonly kind: 'pair'; readonly mechanism: pkcs11js.Mechanism; readonly publicTemplate: Template; readonly privateTemplate: Template };

/** How to generate a key version of any spec and usage in the token. */
export function generation(key: KeyTemplate): Generation {
  const facts = KEY_SPEC_FACTS[key.keySpec];
  const mechanism = { mechanism: generationMechanism(key.keySpec) };
  const enabled = USAGE_ATTRIBUTES[key.keyUsage];
  if (facts.family === 'SYMMETRIC') return { kind: 'secret', mechanism, template: aes256KeyTemplate(key) };
  if (facts.family === 'HMAC') {
    return {
      kind: 'secret',
      mechanism,
      template: [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
        // AWS HMAC_<n> keys are n bits; SoftHSM2's HMAC mechanisms refuse shorter keys.
        { type: pkcs11js.CKA_VALUE_LEN, value: facts.secretBytes! },
        ...CUSTODY,
        ...usage([...PRIVATE_USAGE_ATTRIBUTES, pkcs11js.CKA_VERIFY, pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_WRAP], enabled.private),
        ...identity(key),
      ],
    };
  }
  const keyParameters: Template =
    facts.family === 'RSA'
      ? [
          { type: pkcs11js.CKA_MODULUS_BITS, value: facts.modulusBytes! * 8 },
          { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        ]
      : [{ type: pkcs11js.CKA_EC_PARAMS, value: EC_PARAMS[key.keySpec]! }];
  const keyType =
    facts.family === 'RSA' ? pkcs11js.CKK_RSA : facts.family === 'EC' ? pkcs11js.CKK_EC : CKK_EC_EDWARDS;
  return {
    kind: 'pair',
    mechanism,
    publicTemplate: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      ...keyParameters,
      ...usage(PUBLIC_USAGE_ATTRIBUTES, enabled.public),
      ...identity(key),
    ],
    privateTemplate: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
      ...CUSTODY,
      ...usage(PRIVATE_USAGE_ATTRIBUTES, enabled.private),
      ...identity(key),
    ],
  };
}

/**
 * A session object for the ECDH output. CKM_ECDH1_DERIVE with CKD_NULL yields the raw shared secret
 * (PKCS#11 v2.40 §2.3.11), and AWS KMS DeriveSharedSecret returns exactly that to the caller, so this
 * object is made extractable and not sensitive: it is the answer the caller asked for, not key
 * material of the KMS key, whose private half stays sensitive and non-extractable. It is a session
 * object (CKA_TOKEN false), read once and destroyed at once.
 */
export function sharedSecretTemplate(secretBytes: number): Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
    { type: pkcs11js.CKA_VALUE_LEN, value: secretBytes },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: false },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
  ];
}

/** Finds one half of a key version's objects. */
export function byVersionAndClass(versionId: string, objectClass: number): Template {
  return [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_CLASS, value: objectClass },
    { type: pkcs11js.CKA_ID, value: uuidToBytes(versionId) },
  ];
}

/**
 * Every mechanism this adapter passes to an Init, a key generation or a derivation, by its PKCS#11
 * name, AES-GCM (the hot path) first. `p11kms init` enables only these in the SoftHSM2 token it
 * makes (SOFTHSM2_MECHANISMS_SETTING): SoftHSM2 2.6.1 copies its whole list of enabled mechanisms
 * into a std::list on every C_*Init to look one up (`SoftHSM::isMechanismPermitted`), one heap
 * allocation and one free per entry, and with its 71 defaults that copy was ~3.5% of the server's
 * CPU under Encrypt at 64 (perf, 2026-11-29; bench/FINDINGS.md). Enabling no more than is used is
 * also the least a token should offer. A unit test keeps this list equal to what the tables above
 * name.
 */
export const MECHANISMS_IN_USE: Readonly<Record<string, number>> = {
  CKM_AES_GCM: pkcs11js.CKM_AES_GCM,
  CKM_AES_KEY_GEN: pkcs11js.CKM_AES_KEY_GEN,
  CKM_GENERIC_SECRET_KEY_GEN: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN,
  CKM_SHA224_HMAC: pkcs11js.CKM_SHA224_HMAC,
  CKM_SHA256_HMAC: pkcs11js.CKM_SHA256_HMAC,
  CKM_SHA384_HMAC: pkcs11js.CKM_SHA384_HMAC,
  CKM_SHA512_HMAC: pkcs11js.CKM_SHA512_HMAC,
  CKM_RSA_PKCS_KEY_PAIR_GEN: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKM_RSA_PKCS: pkcs11js.CKM_RSA_PKCS,
  CKM_RSA_PKCS_PSS: pkcs11js.CKM_RSA_PKCS_PSS,
  CKM_RSA_PKCS_OAEP: pkcs11js.CKM_RSA_PKCS_OAEP,
  CKM_RSA_X_509: pkcs11js.CKM_RSA_X_509,
  CKM_EC_KEY_PAIR_GEN: pkcs11js.CKM_EC_KEY_PAIR_GEN,
  CKM_ECDSA: pkcs11js.CKM_ECDSA,
  CKM_ECDH1_DERIVE: pkcs11js.CKM_ECDH1_DERIVE,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
};

/** The SoftHSM2 configuration line (softhsm2.conf(5), slots.mechanisms) enabling MECHANISMS_IN_USE only. */
export const SOFTHSM2_MECHANISMS_SETTING = `slots.mechanisms = ${Object.keys(MECHANISMS_IN_USE).join(',')}`;

/** The mechanisms the tables above name: all that TokenCapabilities may look for, and all the adapter passes. */
export function mechanismsTheTablesName(): Set<number> {
  return new Set([
    pkcs11js.CKM_AES_GCM,
    pkcs11js.CKM_ECDH1_DERIVE,
    pkcs11js.CKM_RSA_PKCS_OAEP,
    pkcs11js.CKM_RSA_X_509,
    ...KEY_SPECS.map(generationMechanism),
    ...Object.values(SIGNING_MECHANISMS).flatMap((signing) => [signing.required, signing.mechanism.mechanism]),
    ...Object.values(MAC_MECHANISMS),
  ]);
}

/**
 * Capability discovery (issue 4, item 9): what this token can do, from C_GetMechanismList and the
 * vendor profile, so an unsupported spec or algorithm is refused by name instead of by CKR_ code.
 */
export class TokenCapabilities implements HsmCapabilities {
  private readonly mechanisms: ReadonlySet<number>;

  constructor(mechanisms: Iterable<number>, private readonly profile: VendorProfile) {
    this.mechanisms = new Set(mechanisms);
  }

  supportsAlgorithm(algorithm: Algorithm): boolean {
    const has = (mechanism: number) => this.mechanisms.has(mechanism);
    if (algorithm === 'SYMMETRIC_DEFAULT') return has(pkcs11js.CKM_AES_GCM);
    if (algorithm === 'ECDH') return has(pkcs11js.CKM_ECDH1_DERIVE);
    if (algorithm === 'RSAES_OAEP_SHA_1' || algorithm === 'RSAES_OAEP_SHA_256') {
      const mode = oaepMode(this.profile, algorithm);
      return mode === 'token' ? has(pkcs11js.CKM_RSA_PKCS_OAEP) : mode === 'host-decoding' && has(pkcs11js.CKM_RSA_X_509);
    }
    if (algorithm in MAC_MECHANISMS) return has(MAC_MECHANISMS[algorithm as MacAlgorithm]);
    return has(SIGNING_MECHANISMS[algorithm as SigningAlgorithm].required);
  }

  supportsKey(spec: KeySpec, keyUsage: KeyUsage): boolean {
    if (!this.mechanisms.has(generationMechanism(spec))) return false;
    const lists = algorithmListsFor(spec, keyUsage);
    const algorithms: Algorithm[] = [
      ...lists.encryptionAlgorithms, ...lists.signingAlgorithms, ...lists.macAlgorithms, ...lists.keyAgreementAlgorithms,
    ];
    return algorithms.some((algorithm) => this.supportsAlgorithm(algorithm));
  }
}
