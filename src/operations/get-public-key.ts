import { KmsError, needs } from '../domain/errors.js';
import type { KeySpec, KeyUsage } from '../domain/key.js';
import { hasPublicKey } from '../domain/key-spec-facts.js';
import { keyAlgorithms } from './key-metadata.js';
import { defineOperation } from './operation.js';

export interface GetPublicKeyRequest {
  readonly keyId?: string;
  readonly grantTokens?: readonly string[];
}

export interface GetPublicKeyResponse extends ReturnType<typeof keyAlgorithms> {
  readonly keyId: string;
  /** DER SubjectPublicKeyInfo (RFC 5280), as AWS KMS returns it. */
  readonly publicKey: Buffer;
  readonly keySpec: KeySpec;
  /** AWS keeps the deprecated name beside KeySpec. */
  readonly customerMasterKeySpec: KeySpec;
  readonly keyUsage: KeyUsage;
}

/** AWS KMS GetPublicKey: the public half of an asymmetric key, for use outside the service. */
export const getPublicKey = defineOperation<GetPublicKeyRequest, GetPublicKeyResponse, 'key'>({
  name: 'GetPublicKey',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:GetPublicKey', stateRules: 'GetPublicKey' } },
  audit: (r) => ({ keyId: r.keyId }),
  async run(_request, { hsm, keys: { key } }) {
    needs(hasPublicKey(key.keySpec), () =>
      new KmsError('UnsupportedOperationException', `${key.arn} is a ${key.keySpec} key, which has no public key.`),
    );
    return {
      keyId: key.arn,
      publicKey: await hsm.publicKey(key.currentVersionId, key.keySpec),
      keySpec: key.keySpec,
      customerMasterKeySpec: key.keySpec,
      keyUsage: key.keyUsage,
      ...keyAlgorithms(key, hsm.capabilities),
    };
  },
});
