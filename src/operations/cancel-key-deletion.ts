import { defineOperation } from './operation.js';

export interface CancelKeyDeletionRequest {
  readonly keyId?: string;
}

/** AWS KMS CancelKeyDeletion: the key returns as Disabled, to be enabled deliberately. */
export const cancelKeyDeletion = defineOperation<CancelKeyDeletionRequest, { keyId: string }, 'key'>({
  name: 'CancelKeyDeletion',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:CancelKeyDeletion', stateRules: 'CancelKeyDeletion' } },
  audit: (r) => ({ keyId: r.keyId }),
  async run(_request, { store, clock, keys: { key } }) {
    await store.cancelKeyDeletion(key.id, clock.now());
    return { keyId: key.arn };
  },
});
