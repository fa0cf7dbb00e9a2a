import { defineOperation } from './operation.js';

export interface EnableKeyRequest {
  readonly keyId?: string;
}

export const enableKey = defineOperation<EnableKeyRequest, Record<string, never>, 'key'>({
  name: 'EnableKey',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:EnableKey', stateRules: 'EnableKey' } },
  audit: (request) => ({ keyId: request.keyId }),
  async run(_request, { store, keys }) {
    await store.setKeyState(keys.key.id, 'Enabled');
    return {};
  },
});
