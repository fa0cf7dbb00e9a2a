import { decodeCiphertext, encodeCiphertext } from '../domain/ciphertext.js';
import { invalidCiphertext, KmsError, needs, validation } from '../domain/errors.js';
import {
  canonicalEncryptionContext,
  validateEncryptionContext,
  type EncryptionContext,
} from '../domain/encryption-context.js';
import type { KeyRecord } from '../domain/key.js';
import { HsmAuthenticationError, type Hsm } from '../ports/hsm.js';
import type { MetadataStore } from '../ports/metadata-store.js';

/** AWS KMS Encrypt: Plaintext is 1 to 4,096 bytes. */
export const MAX_PLAINTEXT_BYTES = 4096;

export function validatePlaintext(plaintext: Buffer | undefined, field = 'Plaintext'): void {
  needs(plaintext !== undefined && plaintext.length > 0, () => validation(`${field} is required.`));
  needs(plaintext.length <= MAX_PLAINTEXT_BYTES, () =>
    validation(`${field} must be at most ${MAX_PLAINTEXT_BYTES} bytes; it is ${plaintext.length}.`),
  );
}

export function validateContext(context: EncryptionContext | undefined, field = 'EncryptionContext'): void {
  validateEncryptionContext(context ?? {}, field);
}

/** The key id a ciphertext names, for the pipeline to resolve and authorize before any token call. */
export function keyIdInCiphertext(blob: Buffer | undefined): string {
  needs(blob !== undefined && blob.length > 0, () => validation('CiphertextBlob is required.'));
  return decodeCiphertext(blob).keyId;
}

/**
 * Seals plaintext under the key's current version, inside the token. Only a symmetric encryption
 * key seals (AWS KMS: GenerateDataKey, GenerateDataKeyPair and ReEncrypt's destination without an
 * asymmetric algorithm need one; another key gives InvalidKeyUsageException).
 */
export async function seal(hsm: Hsm, key: KeyRecord, plaintext: Buffer, context: EncryptionContext = {}): Promise<Buffer> {
  needs(key.keySpec === 'SYMMETRIC_DEFAULT', () =>
    new KmsError('InvalidKeyUsageException', `${key.arn} is not a symmetric encryption KMS key (${key.keySpec}).`),
  );
  const sealed = await hsm.encrypt(key.currentVersionId, plaintext, canonicalEncryptionContext(context));
  return encodeCiphertext({ keyId: key.id, keyVersionId: key.currentVersionId, ...sealed });
}

/**
 * Opens a ciphertext with the key version it names. A version that is not the key's, a changed
 * byte or a different encryption context all give the same InvalidCiphertextException.
 */
export async function open(
  hsm: Hsm,
  store: Pick<MetadataStore, 'getKeyVersion'>,
  key: KeyRecord,
  blob: Buffer,
  context: EncryptionContext = {},
): Promise<Buffer> {
  const sealed = decodeCiphertext(blob);
  if (sealed.keyId !== key.id) throw invalidCiphertext();
  const version = await store.getKeyVersion(key.id, sealed.keyVersionId);
  if (!version) throw invalidCiphertext();
  try {
    return await hsm.decrypt(version.id, sealed, canonicalEncryptionContext(context));
  } catch (error) {
    if (error instanceof HsmAuthenticationError) throw invalidCiphertext();
    throw error;
  }
}
