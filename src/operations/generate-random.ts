import { needs, validation } from '../domain/errors.js';
import { defineOperation } from './operation.js';

export interface GenerateRandomRequest {
  readonly numberOfBytes?: number;
}

export interface GenerateRandomResponse {
  readonly plaintext: Buffer;
}

/** AWS KMS GenerateRandom: 1 to 1,024 bytes, from the token's generator. */
export const generateRandom = defineOperation<GenerateRandomRequest, GenerateRandomResponse>({
  name: 'GenerateRandom',
  action: 'kms:GenerateRandom',
  keys: {},
  audit: (r) => ({ numberOfBytes: r.numberOfBytes }),
  validate(request) {
    needs(
      request.numberOfBytes !== undefined &&
        Number.isInteger(request.numberOfBytes) &&
        request.numberOfBytes >= 1 &&
        request.numberOfBytes <= 1024,
      () => validation('NumberOfBytes must be between 1 and 1024.'),
    );
  },
  async run(request, { hsm }) {
    return { plaintext: await hsm.random(request.numberOfBytes!) };
  },
});
