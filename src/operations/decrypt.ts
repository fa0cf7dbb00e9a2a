import type { EncryptionContext } from '../domain/encryption-context.js';
import { needs, validation } from '../domain/errors.js';
import { ENCRYPTION_ALGORITHMS, type EncryptionAlgorithm } from '../domain/key.js';
import { requireKeyAlgorithm, requireNoContext } from './key-algorithms.js';
import { defineOperation } from './operation.js';
import { isRsaAlgorithm, openOaep } from './rsa-encryption.js';
import { keyIdInCiphertext, open, validateContext } from './symmetric.js';

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

/**
 * AWS KMS Decrypt: a symmetric ciphertext names its key (a KeyId, when given, must be that key);
 * an RSAES-OAEP ciphertext is decrypted with the private key of the KeyId given, inside the token.
 */
export const decrypt = defineOperation<DecryptRequest, DecryptResponse, 'key'>({
  name: 'Decrypt',
  dryRun: true,
  keys: {
    key: {
      ref: (r) => {
        if (!isRsaAlgorithm(r.encryptionAlgorithm)) return keyIdInCiphertext(r.ciphertextBlob);
        needs(r.keyId !== undefined && r.keyId !== '', () =>
          validation(`KeyId is required to decrypt with ${r.encryptionAlgorithm} (an asymmetric KMS key).`),
        );
        return r.keyId;
      },
      field: 'CiphertextBlob',
      mustMatch: { ref: (r) => (isRsaAlgorithm(r.encryptionAlgorithm) ? undefined : r.keyId), field: 'KeyId' },
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
    needs(request.encryptionAlgorithm === undefined || ENCRYPTION_ALGORITHMS.includes(request.encryptionAlgorithm), () =>
      validation(`EncryptionAlgorithm must be one of ${ENCRYPTION_ALGORITHMS.join(', ')}.`),
    );
    needs(request.ciphertextBlob !== undefined && request.ciphertextBlob.length > 0, () => validation('CiphertextBlob is required.'));
  },
  async run(request, { hsm, store, keys: { key } }) {
    const algorithm = request.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT';
    requireKeyAlgorithm(key, 'encryptionAlgorithms', algorithm, hsm.capabilities, 'EncryptionAlgorithm');
    if (algorithm === 'SYMMETRIC_DEFAULT') {
      return { keyId: key.arn, plaintext: await open(hsm, store, key, request.ciphertextBlob!, request.encryptionContext), encryptionAlgorithm: algorithm };
    }
    requireNoContext(request.encryptionContext);
    return { keyId: key.arn, plaintext: await openOaep(hsm, key, algorithm, request.ciphertextBlob!), encryptionAlgorithm: algorithm };
  },
});
