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

export interface AesGcmSealed {
  readonly iv: Buffer;
  /** Ciphertext followed by the 16-byte tag. */
  readonly ciphertextAndTag: Buffer;
}

/** Thrown by `decrypt` when the tag does not verify: wrong key, wrong AAD or altered bytes. */
export class HsmAuthenticationError extends Error {
  override readonly name = 'HsmAuthenticationError';
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
}

export interface Hsm {
  /** Generates an AES-256 key inside the token: sensitive, not extractable, encrypt/decrypt only. */
  generateSymmetricKey(template: SymmetricKeyTemplate): Promise<void>;
  /** Destroys the token object of a key version; a missing object is not an error. */
  destroyKey(versionId: string): Promise<void>;
  /** AES-256-GCM inside the token with a fresh 12-byte IV from the token's RNG. */
  encrypt(versionId: string, plaintext: Buffer, aad: Buffer): Promise<AesGcmSealed>;
  decrypt(versionId: string, sealed: AesGcmSealed, aad: Buffer): Promise<Buffer>;
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
