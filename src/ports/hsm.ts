import type { KeySpec, KeyUsage } from '../domain/key.js';
import type { Algorithm, KeyAgreementAlgorithm, MacAlgorithm, SigningAlgorithm } from '../domain/key-spec-facts.js';

/**
 * The custody boundary (DESIGN.md, "Core contracts"): the only port through which key material is
 * used. Implementations keep every key inside the token; nothing here ever returns key bytes.
 * Objects are addressed by their key-version id (the token object's CKA_ID).
 */
export interface SymmetricKeyTemplate {
  /** The key-version id; becomes CKA_ID. */
  readonly versionId: string;
  /** `p11kms:<keyId>:<versionId>`; becomes CKA_LABEL. */
  readonly label: string;
}

/** Any KMS key version: the key spec and usage choose the token mechanism and attribute template. */
export interface KeyTemplate extends SymmetricKeyTemplate {
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsage;
}

/** What the token can do, read once from C_GetMechanismList when the HSM is opened. */
export interface HsmCapabilities {
  /** Key specs the token can generate, with the usages it can serve for each. */
  supportsKey(spec: KeySpec, usage: KeyUsage): boolean;
  /** Algorithms the token (with the host help the vendor profile allows) can run. */
  supportsAlgorithm(algorithm: Algorithm): boolean;
}

/** RSAES-OAEP algorithms (AWS KMS EncryptionAlgorithmSpec for RSA keys). */
export type OaepAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256';

export interface AesGcmSealed {
  readonly iv: Buffer;
  /** Ciphertext followed by the 16-byte tag. */
  readonly ciphertextAndTag: Buffer;
}

/** Thrown by `decrypt` when the tag does not verify: wrong key, wrong AAD or altered bytes. */
export class HsmAuthenticationError extends Error {
  override readonly name = 'HsmAuthenticationError';
}

/** Thrown by `decryptAsymmetric` for any ciphertext that does not decode: one error for every cause. */
export class HsmDecryptionError extends Error {
  override readonly name = 'HsmDecryptionError';
}

/** Thrown when the token cannot do what was asked (a mechanism it does not list). */
export class HsmUnsupportedError extends Error {
  override readonly name = 'HsmUnsupportedError';
}

/** Thrown when no token object has the given key-version id. */
export class HsmKeyNotFoundError extends Error {
  override readonly name = 'HsmKeyNotFoundError';
}

/** What one token object looks like to a custody check (the attributes DESIGN.md invariant 1 names). */
export interface KeyObjectAttributes {
  readonly versionId: string;
  readonly label: string;
  readonly token: boolean;
  readonly private: boolean;
  readonly sensitive: boolean;
  readonly extractable: boolean;
  readonly encrypt: boolean;
  readonly decrypt: boolean;
  readonly sign: boolean;
  readonly verify: boolean;
  readonly derive: boolean;
  readonly wrap: boolean;
  readonly unwrap: boolean;
}

export interface Hsm {
  /** Generates an AES-256 key inside the token: sensitive, not extractable, encrypt/decrypt only. */
  generateSymmetricKey(template: SymmetricKeyTemplate): Promise<void>;
  /**
   * Generates any key spec inside the token (RSA and EC pairs, Ed25519, HMAC secrets, AES-256):
   * private and secret halves sensitive, not extractable, with only the usage attributes
   * `keyUsage` needs; public halves as token objects beside them, under the same CKA_ID and label.
   */
  generateKey(template: KeyTemplate): Promise<void>;
  readonly capabilities: HsmCapabilities;
  /** Destroys the token objects of a key version (both halves of a pair); a missing object is not an error. */
  destroyKey(versionId: string): Promise<void>;
  /** AES-256-GCM inside the token with a fresh random 12-byte IV (host CSPRNG; NIST SP 800-38D §8.2.2). */
  encrypt(versionId: string, plaintext: Buffer, aad: Buffer): Promise<AesGcmSealed>;
  decrypt(versionId: string, sealed: AesGcmSealed, aad: Buffer): Promise<Buffer>;
  /** The public key of an asymmetric key version as DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
  publicKey(versionId: string, spec: KeySpec): Promise<Buffer>;
  /**
   * Signs in the token. `input` is the digest for hashed algorithms (the host hashed RAW messages)
   * and the message itself for ED25519_SHA_512; ECDSA signatures come back DER-encoded.
   */
  sign(versionId: string, spec: KeySpec, algorithm: SigningAlgorithm, input: Buffer): Promise<Buffer>;
  /** Verifies in the token with the public key object; false for any signature that does not verify. */
  verify(versionId: string, spec: KeySpec, algorithm: SigningAlgorithm, input: Buffer, signature: Buffer): Promise<boolean>;
  /** RSAES-OAEP with the public key; answers the raw OAEP ciphertext (k bytes). */
  encryptAsymmetric(versionId: string, spec: KeySpec, algorithm: OaepAlgorithm, plaintext: Buffer): Promise<Buffer>;
  /** RSAES-OAEP decryption with the private key in the token; HsmDecryptionError for any bad ciphertext. */
  decryptAsymmetric(versionId: string, spec: KeySpec, algorithm: OaepAlgorithm, ciphertext: Buffer): Promise<Buffer>;
  /** HMAC in the token. */
  mac(versionId: string, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer>;
  /**
   * ECDH (CKM_ECDH1_DERIVE, no KDF) with the peer's uncompressed point; answers the raw shared
   * secret, the x-coordinate of the shared point (SEC 1 §3.3.1), as AWS KMS DeriveSharedSecret does.
   */
  deriveSharedSecret(versionId: string, algorithm: KeyAgreementAlgorithm, peerPoint: Buffer): Promise<Buffer>;
  /** Random bytes from the token's generator. */
  random(length: number): Promise<Buffer>;
  /** The custody attributes of a key version's object, for audits and tests. */
  describeKeyObject(versionId: string): Promise<KeyObjectAttributes | undefined>;
  close(): Promise<void>;
}

/**
 * The audit ledger's checkpoint key (issue 6, item 4): an ECDSA P-256 key pair generated once in the
 * token, the private half sensitive and not extractable, found again by a fixed label and CKA_ID.
 * Kept apart from `Hsm` so that only the ledger wiring depends on it.
 */
export interface AuditSigningHsm {
  /** Finds the audit key pair, generating it on first use; answers its public key. */
  ensureAuditSigningKey(): Promise<{ readonly publicKeySpkiDer: Buffer }>;
  /**
   * Signs a SHA-256 digest computed by the caller (raw ECDSA, since tokens such as SoftHSM2 offer no
   * CKM_ECDSA_SHA256); answers the DER Ecdsa-Sig-Value (RFC 3279 §2.2.3).
   */
  signAuditDigest(sha256: Buffer): Promise<Buffer>;
}
