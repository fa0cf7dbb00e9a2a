import type { MacAlgorithm } from '../domain/key-spec-facts.js';
import { requireKeyAlgorithm } from './key-algorithms.js';
import { macAudit, macConditions, validateMacRequest, type MacRequest } from './mac.js';
import { defineOperation } from './operation.js';

export interface GenerateMacResponse {
  readonly mac: Buffer;
  readonly macAlgorithm: MacAlgorithm;
  readonly keyId: string;
}

/** AWS KMS GenerateMac: HMAC (RFC 2104) of up to 4,096 bytes with a key that stays in the token. */
export const generateMac = defineOperation<MacRequest, GenerateMacResponse, 'key'>({
  name: 'GenerateMac',
  dryRun: true,
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:GenerateMac', stateRules: 'GenerateMac', usage: 'GENERATE_VERIFY_MAC' },
  },
  conditions: macConditions,
  audit: macAudit,
  validate: validateMacRequest,
  async run(request, { hsm, keys: { key } }) {
    const algorithm = request.macAlgorithm!;
    requireKeyAlgorithm(key, 'macAlgorithms', algorithm, hsm.capabilities, 'MacAlgorithm');
    return { mac: await hsm.mac(key.currentVersionId, algorithm, request.message!), macAlgorithm: algorithm, keyId: key.arn };
  },
});
