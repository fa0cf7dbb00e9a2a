import { defineOperation } from './operation.js';
import { DEFAULT_ROTATION_DAYS, daysAfter, requireRotatable, validateRotationPeriod } from './rotation.js';

export interface EnableKeyRotationRequest {
  readonly keyId?: string;
  readonly rotationPeriodInDays?: number;
}

/** AWS KMS EnableKeyRotation: the scheduler rotates the key every RotationPeriodInDays. */
export const enableKeyRotation = defineOperation<EnableKeyRotationRequest, Record<string, never>, 'key'>({
  name: 'EnableKeyRotation',
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:EnableKeyRotation', stateRules: 'EnableKeyRotation' },
  },
  audit: (r) => ({ keyId: r.keyId, rotationPeriodInDays: r.rotationPeriodInDays }),
  validate: (r) => validateRotationPeriod(r.rotationPeriodInDays),
  async run(request, { store, clock, keys: { key } }) {
    requireRotatable(key);
    const periodDays = request.rotationPeriodInDays ?? DEFAULT_ROTATION_DAYS;
    await store.setRotation(key.id, { enabled: true, periodDays, nextRotationAt: daysAfter(clock.now(), periodDays) });
    return {};
  },
});
