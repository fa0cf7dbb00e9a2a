import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Tag } from '../../src/domain/key.js';
import { MAX_TAGS_PER_KEY, type MetadataStore, type NewKey } from '../../src/ports/metadata-store.js';
import { expectKmsError, freshStoreEachTest, sampleKey, type StoreFactory } from './metadata-store.fixtures.js';

const tag = (tagKey: string, tagValue = ''): Tag => ({ tagKey, tagValue });
/** `count` tags named k00, k01 … so that listTags' order is their order. */
const numberedTags = (count: number, from = 0): Tag[] =>
  Array.from({ length: count }, (_, i) => tag(`k${String(from + i).padStart(2, '0')}`, `v${from + i}`));

/** UpdateKeyDescription, TagResource and UntagResource, as every MetadataStore must keep them. */
export function tagContract(name: string, factory: StoreFactory): void {
  describe(`MetadataStore contract, descriptions and tags: ${name}`, () => {
    const current = freshStoreEachTest(factory);
    let store: MetadataStore;

    beforeEach(() => {
      store = current();
    });

    async function newKey(tags: Tag[] = []): Promise<NewKey> {
      const created = sampleKey({}, tags);
      await store.createKey(created);
      return created;
    }

    it('updates the description and nothing else, returning the updated key', async () => {
      const created = await newKey();
      const description = `ünïcødé ✓ ${'x'.repeat(8000)}`;

      const updated = await store.updateDescription(created.key.id, description);
      expect(updated).toEqual({ ...created.key, description });
      expect(await store.getKey(created.key.id)).toEqual(updated);
      expect((await store.updateDescription(created.key.id, '')).description).toBe('');
      await expectKmsError(store.updateDescription(randomUUID(), 'x'), 'NotFoundException');
    });

    it('adds tags and replaces the value of tag keys the key already has', async () => {
      const created = await newKey([tag('team', 'payments'), tag('env', 'dev')]);

      await store.tagResource(created.key.id, [tag('env', 'prod'), tag('cost-center', '42')]);
      expect(await store.listTags(created.key.id)).toEqual([
        tag('cost-center', '42'),
        tag('env', 'prod'),
        tag('team', 'payments'),
      ]);
      await store.tagResource(created.key.id, []);
      expect(await store.listTags(created.key.id)).toHaveLength(3);
    });

    it(`accepts exactly ${MAX_TAGS_PER_KEY} tags, and replacing values at the limit adds none`, async () => {
      const created = await newKey(numberedTags(10));

      await store.tagResource(created.key.id, numberedTags(MAX_TAGS_PER_KEY - 10, 10));
      expect(await store.listTags(created.key.id)).toEqual(numberedTags(MAX_TAGS_PER_KEY));
      const renamed = numberedTags(5).map((t) => tag(t.tagKey, 'changed'));
      await store.tagResource(created.key.id, renamed);
      expect(await store.listTags(created.key.id)).toEqual([...renamed, ...numberedTags(MAX_TAGS_PER_KEY - 5, 5)]);
    });

    it(`refuses tags that would pass ${MAX_TAGS_PER_KEY} with TagException, leaving every tag as it was`, async () => {
      const created = await newKey(numberedTags(MAX_TAGS_PER_KEY - 1));
      const before = await store.listTags(created.key.id);

      // Both calls change an existing value too; neither change may survive the refusal.
      const overflows = [
        [tag('k00', 'changed'), tag('new1'), tag('new2')],
        [...numberedTags(3, 60), tag('k01', 'changed')],
      ];
      for (const tags of overflows) {
        const error = await expectKmsError(store.tagResource(created.key.id, tags), 'TagException');
        expect(error.message).toMatch(/LimitExceeded/);
      }
      expect(await store.listTags(created.key.id)).toEqual(before);
    });

    it('removes the named tags and ignores names the key does not have', async () => {
      const created = await newKey([tag('a', '1'), tag('b', '2'), tag('c', '3')]);
      const other = await newKey([tag('a', 'other')]);

      await store.untagResource(created.key.id, ['a', 'c', 'absent']);
      expect(await store.listTags(created.key.id)).toEqual([tag('b', '2')]);
      expect(await store.listTags(other.key.id)).toEqual([tag('a', 'other')]);
      await store.untagResource(created.key.id, []);
      expect(await store.listTags(created.key.id)).toEqual([tag('b', '2')]);
    });

    it('refuses to tag or untag a key it does not hold, storing nothing', async () => {
      const missing = randomUUID();

      await expectKmsError(store.tagResource(missing, [tag('a', '1')]), 'NotFoundException');
      await expectKmsError(store.untagResource(missing, ['a']), 'NotFoundException');
      expect(await store.listTags(missing)).toEqual([]);
    });
  });
}
