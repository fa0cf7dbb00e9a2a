import { defineOperation } from './operation.js';
import { MAX_ON_DEMAND_ROTATIONS, requireRotatable, rotateKey } from './rotation.js';

export interface RotateKeyOnDemandRequest {
  readonly keyId?: string;
}

/** AWS KMS RotateKeyOnDemand: a new key version now, at most 25 times per key. */
export const rotateKeyOnDemand = defineOperation<RotateKeyOnDemandRequest, { keyId: string }, 'key'>({
  name: 'RotateKeyOnDemand',
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:RotateKeyOnDemand', stateRules: 'RotateKeyOnDemand' },
  },
  audit: (r) => ({ keyId: r.keyId }),
  async run(_request, { hsm, store, clock, keys: { key } }) {
    requireRotatable(key);
    await rotateKey(hsm, store, key, clock.now(), {
      makeCurrent: true,
      rotationType: 'ON_DEMAND',
      maxOnDemandRotations: MAX_ON_DEMAND_ROTATIONS,
    });
    return { keyId: key.arn };
  },
});
