import { KmsError } from '../domain/errors.js';
import type { Tag } from '../domain/key.js';
import { defineOperation } from './operation.js';
import { validateLimit } from './paging.js';

export interface ListResourceTagsRequest {
  readonly keyId?: string;
  readonly limit?: number;
  readonly marker?: string;
}

export interface ListResourceTagsResponse {
  readonly tags: Tag[];
  readonly nextMarker: string | undefined;
  readonly truncated: boolean;
}

/** The marker names the last tag key of the previous page (tags are ordered by key). */
const encodeMarker = (tagKey: string) => Buffer.from(`t:${tagKey}`, 'utf8').toString('base64url');

function decodeMarker(marker: string): string {
  const decoded = Buffer.from(marker, 'base64url').toString('utf8');
  if (!decoded.startsWith('t:') || encodeMarker(decoded.slice(2)) !== marker) {
    throw new KmsError('InvalidMarkerException', 'The marker is not valid.');
  }
  return decoded.slice(2);
}

/** AWS KMS ListResourceTags: Limit 1–50 (50 when absent); a key has at most 50 tags. */
export const listResourceTags = defineOperation<ListResourceTagsRequest, ListResourceTagsResponse, 'key'>({
  name: 'ListResourceTags',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:ListResourceTags', stateRules: 'ListResourceTags' } },
  audit: (r) => ({ keyId: r.keyId, limit: r.limit }),
  validate: (r) => validateLimit(r.limit, 50),
  async run(request, { store, keys: { key } }) {
    const after = request.marker ? decodeMarker(request.marker) : undefined;
    const tags = (await store.listTags(key.id)).filter((tag) => after === undefined || tag.tagKey > after);
    const limit = request.limit ?? 50;
    const page = tags.slice(0, limit);
    const more = tags.length > limit;
    return { tags: page, nextMarker: more ? encodeMarker(page[page.length - 1]!.tagKey) : undefined, truncated: more };
  },
});
