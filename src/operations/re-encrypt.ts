import type { EncryptionContext } from '../domain/encryption-context.js';
import { dryRunDone, needs, validation } from '../domain/errors.js';
import { ENCRYPTION_ALGORITHMS, type EncryptionAlgorithm } from '../domain/key.js';
import { ignoresCiphertext, requiredKeyId, type DryRunModifier } from './decrypt.js';
import { requireKeyAlgorithm, requireNoContext } from './key-algorithms.js';
import { defineOperation } from './operation.js';
import { isRsaAlgorithm, openOaep, sealOaep } from './rsa-encryption.js';
import { keyIdInCiphertext, open, seal, validateContext } from './symmetric.js';

export interface ReEncryptRequest {
  readonly ciphertextBlob?: Buffer;
  readonly sourceEncryptionContext?: EncryptionContext;
  readonly sourceKeyId?: string;
  readonly destinationKeyId?: string;
  readonly destinationEncryptionContext?: EncryptionContext;
  readonly sourceEncryptionAlgorithm?: EncryptionAlgorithm;
  readonly destinationEncryptionAlgorithm?: EncryptionAlgorithm;
  readonly dryRun?: boolean;
  readonly dryRunModifiers?: readonly DryRunModifier[];
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
 * Either side may be an RSA key with an RSAES-OAEP algorithm, as in Decrypt and Encrypt: an RSA
 * source is named by SourceKeyId (its ciphertext names no key), and neither RSA side takes an
 * encryption context.
 */
export const reEncrypt = defineOperation<ReEncryptRequest, ReEncryptResponse, 'source' | 'destination'>({
  name: 'ReEncrypt',
  dryRun: true,
  keys: {
    source: {
      ref: (r) => {
        if (ignoresCiphertext(r)) return requiredKeyId(r.sourceKeyId, 'SourceKeyId', 'for a dry run that ignores the ciphertext');
        if (!isRsaAlgorithm(r.sourceEncryptionAlgorithm)) return keyIdInCiphertext(r.ciphertextBlob);
        const why = `to re-encrypt a ciphertext of ${r.sourceEncryptionAlgorithm} (an asymmetric KMS key)`;
        return requiredKeyId(r.sourceKeyId, 'SourceKeyId', why);
      },
      field: 'CiphertextBlob',
      mustMatch: {
        ref: (r) => (isRsaAlgorithm(r.sourceEncryptionAlgorithm) || ignoresCiphertext(r) ? undefined : r.sourceKeyId),
        field: 'SourceKeyId',
      },
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
    sourceEncryptionAlgorithm: r.sourceEncryptionAlgorithm,
    destinationEncryptionAlgorithm: r.destinationEncryptionAlgorithm,
  }),
  validate(request) {
    validateContext(request.sourceEncryptionContext, 'SourceEncryptionContext');
    validateContext(request.destinationEncryptionContext, 'DestinationEncryptionContext');
    for (const [field, algorithm] of [
      ['SourceEncryptionAlgorithm', request.sourceEncryptionAlgorithm],
      ['DestinationEncryptionAlgorithm', request.destinationEncryptionAlgorithm],
    ] as const) {
      needs(algorithm === undefined || ENCRYPTION_ALGORITHMS.includes(algorithm), () =>
        validation(`${field} must be one of ${ENCRYPTION_ALGORITHMS.join(', ')}.`),
      );
    }
    needs(ignoresCiphertext(request) || (request.ciphertextBlob !== undefined && request.ciphertextBlob.length > 0), () =>
      validation('CiphertextBlob is required.'),
    );
  },
  async run(request, { hsm, store, keys: { source, destination } }) {
    const from = request.sourceEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT';
    const to = request.destinationEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT';
    // Everything that can be refused without the plaintext is refused before any token call.
    requireKeyAlgorithm(source, 'encryptionAlgorithms', from, hsm.capabilities, 'SourceEncryptionAlgorithm');
    requireKeyAlgorithm(destination, 'encryptionAlgorithms', to, hsm.capabilities, 'DestinationEncryptionAlgorithm');
    if (from !== 'SYMMETRIC_DEFAULT') requireNoContext(request.sourceEncryptionContext, 'SourceEncryptionContext');
    if (to !== 'SYMMETRIC_DEFAULT') requireNoContext(request.destinationEncryptionContext, 'DestinationEncryptionContext');
    if (ignoresCiphertext(request)) throw dryRunDone();

    const plaintext = from === 'SYMMETRIC_DEFAULT'
      ? await open(hsm, store, source, request.ciphertextBlob!, request.sourceEncryptionContext)
      : await openOaep(hsm, source, from, request.ciphertextBlob!);
    try {
      const ciphertextBlob = to === 'SYMMETRIC_DEFAULT'
        ? await seal(hsm, destination, plaintext, request.destinationEncryptionContext)
        : await sealOaep(hsm, destination, to, plaintext, 'The plaintext of CiphertextBlob');
      return { ciphertextBlob, sourceKeyId: source.arn, keyId: destination.arn, sourceEncryptionAlgorithm: from, destinationEncryptionAlgorithm: to };
    } finally {
      plaintext.fill(0);
    }
  },
});
