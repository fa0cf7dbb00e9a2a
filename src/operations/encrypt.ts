import type { EncryptionContext } from '../domain/encryption-context.js';
import type { EncryptionAlgorithm } from '../domain/key.js';
import { defineOperation } from './operation.js';
import { requireSymmetricAlgorithm, seal, validateContext, validatePlaintext } from './symmetric.js';

export interface EncryptRequest {
  readonly keyId?: string;
  readonly plaintext?: Buffer;
  readonly encryptionContext?: EncryptionContext;
  readonly encryptionAlgorithm?: EncryptionAlgorithm;
}

export interface EncryptResponse {
  readonly ciphertextBlob: Buffer;
  readonly keyId: string;
  readonly encryptionAlgorithm: EncryptionAlgorithm;
}

/** AWS KMS Encrypt: up to 4,096 bytes under the key's current version, the context bound as AAD. */
export const encrypt = defineOperation<EncryptRequest, EncryptResponse, 'key'>({
  name: 'Encrypt',
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:Encrypt', stateRules: 'Encrypt', usage: 'ENCRYPT_DECRYPT' },
  },
  conditions: (r) => ({
    encryptionContext: r.encryptionContext ?? {},
    keys: { 'kms:EncryptionAlgorithm': r.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' },
  }),
  audit: (r) => ({ keyId: r.keyId, encryptionContext: r.encryptionContext, encryptionAlgorithm: r.encryptionAlgorithm }),
  validate(request) {
    validatePlaintext(request.plaintext);
    validateContext(request.encryptionContext);
    requireSymmetricAlgorithm(request.encryptionAlgorithm);
  },
  async run(request, { hsm, keys: { key } }) {
    return {
      ciphertextBlob: await seal(hsm, key, request.plaintext!, request.encryptionContext),
      keyId: key.arn,
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },
});
