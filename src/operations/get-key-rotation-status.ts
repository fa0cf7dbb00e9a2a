import { defineOperation } from './operation.js';

export interface GetKeyRotationStatusRequest {
  readonly keyId?: string;
}

export interface GetKeyRotationStatusResponse {
  readonly keyId: string;
  readonly keyRotationEnabled: boolean;
  readonly rotationPeriodInDays: number | undefined;
  readonly nextRotationDate: Date | undefined;
}

/** AWS KMS GetKeyRotationStatus: period and next date only while rotation is enabled. */
export const getKeyRotationStatus = defineOperation<GetKeyRotationStatusRequest, GetKeyRotationStatusResponse, 'key'>({
  name: 'GetKeyRotationStatus',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:GetKeyRotationStatus', stateRules: 'GetKeyRotationStatus' } },
  audit: (r) => ({ keyId: r.keyId }),
  async run(_request, { store, keys: { key } }) {
    const rotation = await store.getRotation(key.id);
    const enabled = rotation?.enabled === true;
    return {
      keyId: key.arn,
      keyRotationEnabled: enabled,
      rotationPeriodInDays: enabled ? rotation.periodDays : undefined,
      nextRotationDate: enabled ? rotation.nextRotationAt : undefined,
    };
  },
});
