import { needs, validation } from '../domain/errors.js';
import { defineOperation } from './operation.js';

export interface UntagResourceRequest {
  readonly keyId?: string;
  readonly tagKeys?: readonly string[];
}

/** AWS KMS UntagResource: removes the named tags; names the key lacks are ignored. */
export const untagResource = defineOperation<UntagResourceRequest, Record<string, never>, 'key'>({
  name: 'UntagResource',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:UntagResource', stateRules: 'UntagResource' } },
  conditions: (r) => ({ keys: { 'aws:TagKeys': r.tagKeys ?? [] } }),
  audit: (r) => ({ keyId: r.keyId, tagKeys: r.tagKeys }),
  validate(request) {
    needs(request.tagKeys !== undefined && request.tagKeys.length > 0, () => validation('TagKeys is required.'));
    needs(request.tagKeys.every((k) => k.length >= 1 && k.length <= 128), () =>
      validation('Each tag key must be 1 to 128 characters.'),
    );
  },
  async run(request, { store, keys: { key } }) {
    await store.untagResource(key.id, request.tagKeys!);
    return {};
  },
});
