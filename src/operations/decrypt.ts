import type { EncryptionContext } from '../domain/encryption-context.js';
import { dryRunDone, needs, validation } from '../domain/errors.js';
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
  readonly dryRun?: boolean;
  readonly dryRunModifiers?: readonly DryRunModifier[];
}

/** AWS KMS DryRunModifierType. */
export type DryRunModifier = 'IGNORE_CIPHERTEXT';

/**
 * A dry run with IGNORE_CIPHERTEXT (AWS KMS Decrypt and ReEncrypt): it tests permissions without a
 * ciphertext, so the key is the one KeyId (SourceKeyId) names and no ciphertext is read.
 */
export function ignoresCiphertext(request: { readonly dryRun?: boolean; readonly dryRunModifiers?: readonly DryRunModifier[] }): boolean {
  return request.dryRun === true && request.dryRunModifiers?.includes('IGNORE_CIPHERTEXT') === true;
}

/** The key a request names by its key-id field, which a ciphertext or an RSA algorithm makes required. */
export function requiredKeyId(keyId: string | undefined, field: string, why: string): string {
  needs(keyId !== undefined && keyId !== '', () => validation(`${field} is required ${why}.`));
  return keyId;
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
        if (ignoresCiphertext(r)) return requiredKeyId(r.keyId, 'KeyId', 'for a dry run that ignores the ciphertext');
        if (!isRsaAlgorithm(r.encryptionAlgorithm)) return keyIdInCiphertext(r.ciphertextBlob);
        return requiredKeyId(r.keyId, 'KeyId', `to decrypt with ${r.encryptionAlgorithm} (an asymmetric KMS key)`);
      },
      field: 'CiphertextBlob',
      mustMatch: { ref: (r) => (isRsaAlgorithm(r.encryptionAlgorithm) || ignoresCiphertext(r) ? undefined : r.keyId), field: 'KeyId' },
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
    needs(ignoresCiphertext(request) || (request.ciphertextBlob !== undefined && request.ciphertextBlob.length > 0), () =>
      validation('CiphertextBlob is required.'),
    );
  },
  async run(request, { hsm, store, keys: { key } }) {
    const algorithm = request.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT';
    requireKeyAlgorithm(key, 'encryptionAlgorithms', algorithm, hsm.capabilities, 'EncryptionAlgorithm');
    if (algorithm !== 'SYMMETRIC_DEFAULT') requireNoContext(request.encryptionContext);
    if (ignoresCiphertext(request)) throw dryRunDone();
    if (algorithm === 'SYMMETRIC_DEFAULT') {
      return { keyId: key.arn, plaintext: await open(hsm, store, key, request.ciphertextBlob!, request.encryptionContext), encryptionAlgorithm: algorithm };
    }
    return { keyId: key.arn, plaintext: await openOaep(hsm, key, algorithm, request.ciphertextBlob!), encryptionAlgorithm: algorithm };
  },
});
