import { KmsError, needs, validation } from '../domain/errors.js';
import type { SigningAlgorithm } from '../domain/key-spec-facts.js';
import { requireKeyAlgorithm } from './key-algorithms.js';
import { defineOperation } from './operation.js';
import { signingAudit, signingConditions, signingInput, validateSigningRequest, type SigningRequest } from './signing.js';

export interface VerifyRequest extends SigningRequest {
  readonly signature?: Buffer;
}

export interface VerifyResponse {
  readonly keyId: string;
  readonly signatureValid: true;
  readonly signingAlgorithm: SigningAlgorithm;
}

/** AWS KMS Verify: Signature is 1 to 6,144 bytes. */
const MAX_SIGNATURE_BYTES = 6144;

/**
 * AWS KMS Verify: SignatureValid true, or KMSInvalidSignatureException for a signature that does
 * not verify (AWS never answers SignatureValid false). Verification runs in the token with the
 * public key object; anyone may equally verify offline with GetPublicKey's key.
 */
export const verify = defineOperation<VerifyRequest, VerifyResponse, 'key'>({
  name: 'Verify',
  dryRun: true,
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:Verify', stateRules: 'Verify', usage: 'SIGN_VERIFY' } },
  conditions: signingConditions,
  audit: signingAudit,
  validate(request) {
    validateSigningRequest(request);
    needs(request.signature !== undefined && request.signature.length > 0, () => validation('Signature is required.'));
    needs(request.signature.length <= MAX_SIGNATURE_BYTES, () =>
      validation(`Signature must be at most ${MAX_SIGNATURE_BYTES} bytes.`),
    );
  },
  async run(request, { hsm, keys: { key } }) {
    const algorithm = request.signingAlgorithm!;
    requireKeyAlgorithm(key, 'signingAlgorithms', algorithm, hsm.capabilities, 'SigningAlgorithm');
    const valid = await hsm.verify(key.currentVersionId, key.keySpec, algorithm, signingInput(request), request.signature!);
    needs(valid, () => new KmsError('KMSInvalidSignatureException', 'The signature is not valid for this message, key and algorithm.'));
    return { keyId: key.arn, signatureValid: true, signingAlgorithm: algorithm };
  },
});
