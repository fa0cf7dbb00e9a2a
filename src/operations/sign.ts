import type { SigningAlgorithm } from '../domain/key-spec-facts.js';
import { requireKeyAlgorithm } from './key-algorithms.js';
import { defineOperation } from './operation.js';
import { signingAudit, signingConditions, signingInput, validateSigningRequest, type SigningRequest } from './signing.js';

export interface SignResponse {
  readonly keyId: string;
  readonly signature: Buffer;
  readonly signingAlgorithm: SigningAlgorithm;
}

/**
 * AWS KMS Sign: the private key signs inside the token. RSA signatures are k bytes; ECDSA
 * signatures are DER Ecdsa-Sig-Value, as AWS KMS returns them and OpenSSL verifies them.
 */
export const sign = defineOperation<SigningRequest, SignResponse, 'key'>({
  name: 'Sign',
  dryRun: true,
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:Sign', stateRules: 'Sign', usage: 'SIGN_VERIFY' } },
  conditions: signingConditions,
  audit: signingAudit,
  validate: validateSigningRequest,
  async run(request, { hsm, keys: { key } }) {
    const algorithm = request.signingAlgorithm!;
    requireKeyAlgorithm(key, 'signingAlgorithms', algorithm, hsm.capabilities, 'SigningAlgorithm');
    const signature = await hsm.sign(key.currentVersionId, key.keySpec, algorithm, signingInput(request));
    return { keyId: key.arn, signature, signingAlgorithm: algorithm };
  },
});
