import { defineOperation } from './operation.js';

export interface DisableKeyRequest {
  readonly keyId?: string;
}

export const disableKey = defineOperation<DisableKeyRequest, Record<string, never>, 'key'>({
  name: 'DisableKey',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:DisableKey', stateRules: 'DisableKey' } },
  audit: (request) => ({ keyId: request.keyId }),
  async run(_request, { store, keys }) {
    await store.setKeyState(keys.key.id, 'Disabled');
    return {};
  },
});
