import { timingSafeEqual } from 'node:crypto';
import { KmsError, needs, validation } from '../domain/errors.js';
import type { MacAlgorithm } from '../domain/key-spec-facts.js';
import { requireKeyAlgorithm } from './key-algorithms.js';
import { macAudit, macConditions, validateMacRequest, type MacRequest } from './mac.js';
import { defineOperation } from './operation.js';

export interface VerifyMacRequest extends MacRequest {
  readonly mac?: Buffer;
}

export interface VerifyMacResponse {
  readonly keyId: string;
  readonly macValid: true;
  readonly macAlgorithm: MacAlgorithm;
}

/** AWS KMS VerifyMac: Mac is 1 to 6,144 bytes. */
const MAX_MAC_BYTES = 6144;

/**
 * AWS KMS VerifyMac: MacValid true, or KMSInvalidMacException. The token computes the HMAC and the
 * host compares in constant time (crypto.timingSafeEqual), so the comparison leaks no prefix length;
 * only the length, which is public (the algorithm fixes it), is compared first.
 */
export const verifyMac = defineOperation<VerifyMacRequest, VerifyMacResponse, 'key'>({
  name: 'VerifyMac',
  dryRun: true,
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:VerifyMac', stateRules: 'VerifyMac', usage: 'GENERATE_VERIFY_MAC' },
  },
  conditions: macConditions,
  audit: macAudit,
  validate(request) {
    validateMacRequest(request);
    needs(request.mac !== undefined && request.mac.length > 0, () => validation('Mac is required.'));
    needs(request.mac.length <= MAX_MAC_BYTES, () => validation(`Mac must be at most ${MAX_MAC_BYTES} bytes.`));
  },
  async run(request, { hsm, keys: { key } }) {
    const algorithm = request.macAlgorithm!;
    requireKeyAlgorithm(key, 'macAlgorithms', algorithm, hsm.capabilities, 'MacAlgorithm');
    const expected = await hsm.mac(key.currentVersionId, algorithm, request.message!);
    const valid = expected.length === request.mac!.length && timingSafeEqual(expected, request.mac!);
    expected.fill(0);
    needs(valid, () => new KmsError('KMSInvalidMacException', 'The MAC is not valid for this message, key and algorithm.'));
    return { keyId: key.arn, macValid: true, macAlgorithm: algorithm };
  },
});
