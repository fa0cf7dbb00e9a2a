import { createPublicKey, type KeyObject } from 'node:crypto';
import { needs, validation } from '../domain/errors.js';
import type { KeyOrigin, KeySpec } from '../domain/key.js';
import { KEY_AGREEMENT_ALGORITHMS, KEY_SPEC_FACTS, type KeyAgreementAlgorithm } from '../domain/key-spec-facts.js';
import { requireKeyAlgorithm, validateChoice } from './key-algorithms.js';
import { defineOperation } from './operation.js';

export interface DeriveSharedSecretRequest {
  readonly keyId?: string;
  readonly keyAgreementAlgorithm?: KeyAgreementAlgorithm;
  /** The peer's public key, DER SubjectPublicKeyInfo. */
  readonly publicKey?: Buffer;
  readonly grantTokens?: readonly string[];
}

export interface DeriveSharedSecretResponse {
  readonly keyId: string;
  /** Sensitive: the transport wipes it once the response is serialised. */
  readonly sharedSecret: Buffer;
  readonly keyAgreementAlgorithm: KeyAgreementAlgorithm;
  readonly keyOrigin: KeyOrigin;
}

/** AWS KMS DeriveSharedSecret: PublicKey is 1 to 8,192 bytes. */
const MAX_PUBLIC_KEY_BYTES = 8192;

/**
 * AWS KMS DeriveSharedSecret: ECDH (NIST SP 800-56A, the raw Z value) between the KMS key's
 * private half, in the token, and the peer's public key, which must be on the same curve.
 */
export const deriveSharedSecret = defineOperation<DeriveSharedSecretRequest, DeriveSharedSecretResponse, 'key'>({
  name: 'DeriveSharedSecret',
  dryRun: true,
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:DeriveSharedSecret', stateRules: 'DeriveSharedSecret', usage: 'KEY_AGREEMENT' },
  },
  conditions: (r) => ({ keys: { 'kms:KeyAgreementAlgorithm': r.keyAgreementAlgorithm } }),
  audit: (r) => ({ keyId: r.keyId, keyAgreementAlgorithm: r.keyAgreementAlgorithm }),
  validate(request) {
    validateChoice(request.keyAgreementAlgorithm, KEY_AGREEMENT_ALGORITHMS, 'KeyAgreementAlgorithm');
    needs(request.publicKey !== undefined && request.publicKey.length > 0, () => validation('PublicKey is required.'));
    needs(request.publicKey.length <= MAX_PUBLIC_KEY_BYTES, () => validation(`PublicKey must be at most ${MAX_PUBLIC_KEY_BYTES} bytes.`));
  },
  async run(request, { hsm, keys: { key } }) {
    const algorithm = request.keyAgreementAlgorithm!;
    requireKeyAlgorithm(key, 'keyAgreementAlgorithms', algorithm, hsm.capabilities, 'KeyAgreementAlgorithm');
    const peerPoint = uncompressedPoint(request.publicKey!, key.keySpec);
    const sharedSecret = await hsm.deriveSharedSecret(key.currentVersionId, algorithm, peerPoint);
    return { keyId: key.arn, sharedSecret, keyAgreementAlgorithm: algorithm, keyOrigin: key.origin };
  },
});

/** The peer's SPKI → its uncompressed point 0x04‖X‖Y, once node:crypto has checked it is on the key's curve. */
function uncompressedPoint(spki: Buffer, spec: KeySpec): Buffer {
  const { curve, coordinateBytes } = KEY_SPEC_FACTS[spec];
  let peer: KeyObject;
  try {
    peer = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw validation('PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo.');
  }
  needs(peer.asymmetricKeyType === 'ec' && peer.asymmetricKeyDetails?.namedCurve === curve, () =>
    validation(`PublicKey must be an EC public key on the curve of ${spec}.`),
  );
  const jwk = peer.export({ format: 'jwk' });
  return Buffer.concat([
    Buffer.from([0x04]),
    Buffer.from(jwk.x!, 'base64url').subarray(-coordinateBytes!),
    Buffer.from(jwk.y!, 'base64url').subarray(-coordinateBytes!),
  ]);
}
