import type { EncryptionContext } from '../domain/encryption-context.js';
import { needs, validation } from '../domain/errors.js';
import { ENCRYPTION_ALGORITHMS, type EncryptionAlgorithm } from '../domain/key.js';
import { requireKeyAlgorithm, requireNoContext } from './key-algorithms.js';
import { defineOperation } from './operation.js';
import { sealOaep } from './rsa-encryption.js';
import { seal, validateContext, validatePlaintext } from './symmetric.js';

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

/**
 * AWS KMS Encrypt: up to 4,096 bytes under a symmetric key's current version, the context bound as
 * AAD; or RSAES-OAEP under an RSA key, whose ciphertext is the raw OAEP output (k bytes), so that
 * OpenSSL or any RSA library can make and read the same ciphertexts with GetPublicKey's key.
 */
export const encrypt = defineOperation<EncryptRequest, EncryptResponse, 'key'>({
  name: 'Encrypt',
  dryRun: true,
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
    needs(request.encryptionAlgorithm === undefined || ENCRYPTION_ALGORITHMS.includes(request.encryptionAlgorithm), () =>
      validation(`EncryptionAlgorithm must be one of ${ENCRYPTION_ALGORITHMS.join(', ')}.`),
    );
  },
  async run(request, { hsm, keys: { key } }) {
    const algorithm = request.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT';
    requireKeyAlgorithm(key, 'encryptionAlgorithms', algorithm, hsm.capabilities, 'EncryptionAlgorithm');
    if (algorithm === 'SYMMETRIC_DEFAULT') {
      return { ciphertextBlob: await seal(hsm, key, request.plaintext!, request.encryptionContext), keyId: key.arn, encryptionAlgorithm: algorithm };
    }
    requireNoContext(request.encryptionContext);
    return { ciphertextBlob: await sealOaep(hsm, key, algorithm, request.plaintext!), keyId: key.arn, encryptionAlgorithm: algorithm };
  },
});
