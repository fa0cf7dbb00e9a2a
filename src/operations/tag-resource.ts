import { needs, validation } from '../domain/errors.js';
import type { Tag } from '../domain/key.js';
import { defineOperation } from './operation.js';
import { requestTagConditions, validateTags } from './tags.js';

export interface TagResourceRequest {
  readonly keyId?: string;
  readonly tags?: readonly Tag[];
}

/** AWS KMS TagResource: adds tags or replaces the values of existing tag keys; 50 per key. */
export const tagResource = defineOperation<TagResourceRequest, Record<string, never>, 'key'>({
  name: 'TagResource',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:TagResource', stateRules: 'TagResource' } },
  conditions: (r) => ({ keys: requestTagConditions(r.tags ?? []) }),
  audit: (r) => ({ keyId: r.keyId, tagKeys: r.tags?.map((t) => t.tagKey) }),
  validate(request) {
    needs(request.tags !== undefined && request.tags.length > 0, () => validation('Tags is required.'));
    validateTags(request.tags);
  },
  async run(request, { store, keys: { key } }) {
    await store.tagResource(key.id, request.tags!);
    return {};
  },
});
