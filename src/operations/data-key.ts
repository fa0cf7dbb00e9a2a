import { needs, validation } from '../domain/errors.js';
import type { EncryptionContext } from '../domain/encryption-context.js';
import type { DataKeySpec, KeyRecord } from '../domain/key.js';
import type { Hsm } from '../ports/hsm.js';
import { seal, validateContext } from './symmetric.js';

/** The request shared by GenerateDataKey and GenerateDataKeyWithoutPlaintext. */
export interface DataKeyRequest {
  readonly keyId?: string;
  readonly encryptionContext?: EncryptionContext;
  readonly numberOfBytes?: number;
  readonly keySpec?: DataKeySpec;
}

const SPEC_BYTES: Record<DataKeySpec, number> = { AES_128: 16, AES_256: 32 };

/** AWS KMS: exactly one of KeySpec and NumberOfBytes (1–1024). */
export function validateDataKeyRequest(request: DataKeyRequest): void {
  needs(request.keySpec !== undefined || request.numberOfBytes !== undefined, () =>
    validation('Specify either KeySpec or NumberOfBytes.'),
  );
  needs(request.keySpec === undefined || request.numberOfBytes === undefined, () =>
    validation('Specify KeySpec or NumberOfBytes, not both.'),
  );
  needs(request.keySpec === undefined || Object.hasOwn(SPEC_BYTES, request.keySpec), () =>
    validation('KeySpec must be AES_128 or AES_256.'),
  );
  needs(
    request.numberOfBytes === undefined ||
      (Number.isInteger(request.numberOfBytes) && request.numberOfBytes >= 1 && request.numberOfBytes <= 1024),
    () => validation('NumberOfBytes must be between 1 and 1024.'),
  );
  validateContext(request.encryptionContext);
}

export interface DataKey {
  /** The plaintext data key: the caller must wipe it once it is no longer needed. */
  readonly plaintext: Buffer;
  readonly ciphertextBlob: Buffer;
}

/** A data key from the token's RNG, sealed under the KMS key inside the token. */
export async function generateDataKey(hsm: Hsm, key: KeyRecord, request: DataKeyRequest): Promise<DataKey> {
  const length = request.keySpec ? SPEC_BYTES[request.keySpec] : request.numberOfBytes!;
  const plaintext = await hsm.random(length);
  try {
    return { plaintext, ciphertextBlob: await seal(hsm, key, plaintext, request.encryptionContext) };
  } catch (error) {
    plaintext.fill(0);
    throw error;
  }
}

export const dataKeyAudit = (r: DataKeyRequest) => ({
  keyId: r.keyId,
  encryptionContext: r.encryptionContext,
  keySpec: r.keySpec,
  numberOfBytes: r.numberOfBytes,
});
