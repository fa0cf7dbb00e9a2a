import type { EncryptionContext } from '../domain/encryption-context.js';
import type { EncryptionAlgorithm } from '../domain/key.js';
import { defineOperation } from './operation.js';
import { keyIdInCiphertext, open, requireSymmetricAlgorithm, validateContext } from './symmetric.js';

export interface DecryptRequest {
  readonly ciphertextBlob?: Buffer;
  readonly encryptionContext?: EncryptionContext;
  readonly keyId?: string;
  readonly encryptionAlgorithm?: EncryptionAlgorithm;
}

export interface DecryptResponse {
  readonly keyId: string;
  readonly plaintext: Buffer;
  readonly encryptionAlgorithm: EncryptionAlgorithm;
}

/** AWS KMS Decrypt: the ciphertext names its key; a KeyId, when given, must be that key. */
export const decrypt = defineOperation<DecryptRequest, DecryptResponse, 'key'>({
  name: 'Decrypt',
  keys: {
    key: {
      ref: (r) => keyIdInCiphertext(r.ciphertextBlob),
      field: 'CiphertextBlob',
      mustMatch: { ref: (r) => r.keyId, field: 'KeyId' },
      action: 'kms:Decrypt',
      stateRules: 'Decrypt',
      usage: 'ENCRYPT_DECRYPT',
    },
  },
  conditions: (r) => ({
    encryptionContext: r.encryptionContext ?? {},
    keys: { 'kms:EncryptionAlgorithm': r.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' },
  }),
  audit: (r) => ({ keyId: r.keyId, encryptionContext: r.encryptionContext, encryptionAlgorithm: r.encryptionAlgorithm }),
  validate(request) {
    validateContext(request.encryptionContext);
    requireSymmetricAlgorithm(request.encryptionAlgorithm);
  },
  async run(request, { hsm, store, keys: { key } }) {
    return {
      keyId: key.arn,
      plaintext: await open(hsm, store, key, request.ciphertextBlob!, request.encryptionContext),
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },
});
