import type { RotationType } from '../ports/metadata-store.js';
import { defineOperation } from './operation.js';
import { validateLimit } from './paging.js';

export interface ListKeyRotationsRequest {
  readonly keyId?: string;
  readonly limit?: number;
  readonly marker?: string;
}

export interface ListKeyRotationsResponse {
  readonly rotations: Array<{ keyId: string; rotationDate: Date; rotationType: RotationType }>;
  readonly nextMarker: string | undefined;
  readonly truncated: boolean;
}

/** AWS KMS ListKeyRotations: every rotation, oldest first. */
export const listKeyRotations = defineOperation<ListKeyRotationsRequest, ListKeyRotationsResponse, 'key'>({
  name: 'ListKeyRotations',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:ListKeyRotations', stateRules: 'ListKeyRotations' } },
  audit: (r) => ({ keyId: r.keyId, limit: r.limit }),
  validate: (r) => validateLimit(r.limit),
  async run(request, { store, keys: { key } }) {
    const page = await store.listKeyRotations(key.id, { limit: request.limit ?? 100, marker: request.marker || undefined });
    return {
      rotations: page.items.map((rotation) => ({
        keyId: key.arn,
        rotationDate: rotation.rotationDate,
        rotationType: rotation.rotationType,
      })),
      nextMarker: page.nextMarker,
      truncated: page.nextMarker !== undefined,
    };
  },
});
