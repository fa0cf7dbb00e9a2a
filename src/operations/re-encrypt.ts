import type { EncryptionContext } from '../domain/encryption-context.js';
import type { EncryptionAlgorithm } from '../domain/key.js';
import { defineOperation } from './operation.js';
import { keyIdInCiphertext, open, requireSymmetricAlgorithm, seal, validateContext } from './symmetric.js';

export interface ReEncryptRequest {
  readonly ciphertextBlob?: Buffer;
  readonly sourceEncryptionContext?: EncryptionContext;
  readonly sourceKeyId?: string;
  readonly destinationKeyId?: string;
  readonly destinationEncryptionContext?: EncryptionContext;
  readonly sourceEncryptionAlgorithm?: EncryptionAlgorithm;
  readonly destinationEncryptionAlgorithm?: EncryptionAlgorithm;
}

export interface ReEncryptResponse {
  readonly ciphertextBlob: Buffer;
  readonly sourceKeyId: string;
  readonly keyId: string;
  readonly sourceEncryptionAlgorithm: EncryptionAlgorithm;
  readonly destinationEncryptionAlgorithm: EncryptionAlgorithm;
}

/**
 * AWS KMS ReEncrypt: decrypts and encrypts again inside the service, under the destination key's
 * current version and context. The plaintext never leaves and is wiped once sealed again.
 */
export const reEncrypt = defineOperation<ReEncryptRequest, ReEncryptResponse, 'source' | 'destination'>({
  name: 'ReEncrypt',
  keys: {
    source: {
      ref: (r) => keyIdInCiphertext(r.ciphertextBlob),
      field: 'CiphertextBlob',
      mustMatch: { ref: (r) => r.sourceKeyId, field: 'SourceKeyId' },
      action: 'kms:ReEncryptFrom',
      stateRules: 'ReEncrypt',
      usage: 'ENCRYPT_DECRYPT',
    },
    destination: {
      ref: (r) => r.destinationKeyId,
      field: 'DestinationKeyId',
      action: 'kms:ReEncryptTo',
      stateRules: 'ReEncrypt',
      usage: 'ENCRYPT_DECRYPT',
    },
  },
  // The source context is the one that guards decryption; grants and kms:EncryptionContext see it.
  conditions: (r, { source, destination }) => ({
    encryptionContext: r.sourceEncryptionContext ?? {},
    keys: {
      'kms:ReEncryptOnSameKey': source.id === destination.id,
      'kms:EncryptionAlgorithm': r.destinationEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT',
    },
  }),
  audit: (r) => ({
    sourceKeyId: r.sourceKeyId,
    destinationKeyId: r.destinationKeyId,
    sourceEncryptionContext: r.sourceEncryptionContext,
    destinationEncryptionContext: r.destinationEncryptionContext,
  }),
  validate(request) {
    validateContext(request.sourceEncryptionContext, 'SourceEncryptionContext');
    validateContext(request.destinationEncryptionContext, 'DestinationEncryptionContext');
    requireSymmetricAlgorithm(request.sourceEncryptionAlgorithm, 'SourceEncryptionAlgorithm');
    requireSymmetricAlgorithm(request.destinationEncryptionAlgorithm, 'DestinationEncryptionAlgorithm');
  },
  async run(request, { hsm, store, keys: { source, destination } }) {
    const plaintext = await open(hsm, store, source, request.ciphertextBlob!, request.sourceEncryptionContext);
    try {
      return {
        ciphertextBlob: await seal(hsm, destination, plaintext, request.destinationEncryptionContext),
        sourceKeyId: source.arn,
        keyId: destination.arn,
        sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    } finally {
      plaintext.fill(0);
    }
  },
});
