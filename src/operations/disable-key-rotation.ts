import { defineOperation } from './operation.js';
import { DEFAULT_ROTATION_DAYS, requireRotatable } from './rotation.js';

export interface DisableKeyRotationRequest {
  readonly keyId?: string;
}

/** AWS KMS DisableKeyRotation: the key keeps its versions; the scheduler leaves it alone. */
export const disableKeyRotation = defineOperation<DisableKeyRotationRequest, Record<string, never>, 'key'>({
  name: 'DisableKeyRotation',
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:DisableKeyRotation', stateRules: 'DisableKeyRotation' },
  },
  audit: (r) => ({ keyId: r.keyId }),
  async run(_request, { store, keys: { key } }) {
    requireRotatable(key);
    const current = await store.getRotation(key.id);
    await store.setRotation(key.id, { enabled: false, periodDays: current?.periodDays ?? DEFAULT_ROTATION_DAYS, nextRotationAt: undefined });
    return {};
  },
});
