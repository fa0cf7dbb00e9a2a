import { KmsError } from '../domain/errors.js';
import type { Tag } from '../domain/key.js';
import { MAX_TAGS_PER_KEY as MAX_TAGS } from '../ports/metadata-store.js';

/** AWS KMS tag limits (API Reference, Tag): key 1–128, value 0–256, 50 tags, `aws:` reserved. */
/** aws:RequestTag/<key> for each tag and aws:TagKeys (IAM global condition keys). */
export function requestTagConditions(tags: readonly Tag[]): Record<string, string | string[]> {
  const keys: Record<string, string | string[]> = { 'aws:TagKeys': tags.map((t) => t.tagKey) };
  for (const tag of tags) keys[`aws:RequestTag/${tag.tagKey}`] = tag.tagValue;
  return keys;
}

export function validateTags(tags: readonly Tag[]): void {
  if (tags.length > MAX_TAGS) throw new KmsError('TagException', `A key can have at most ${MAX_TAGS} tags.`);
  const seen = new Set<string>();
  for (const { tagKey, tagValue } of tags) {
    if (tagKey.length < 1 || tagKey.length > 128) {
      throw new KmsError('TagException', 'TagKey must be 1 to 128 characters.');
    }
    if (tagValue.length > 256) throw new KmsError('TagException', 'TagValue must be at most 256 characters.');
    if (tagKey.startsWith('aws:')) throw new KmsError('TagException', "Tag keys beginning with 'aws:' are reserved.");
    if (seen.has(tagKey)) throw new KmsError('TagException', `Duplicate tag key '${tagKey}'.`);
    seen.add(tagKey);
  }
}
