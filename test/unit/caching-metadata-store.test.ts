import { describe, expect, it } from 'vitest';
import { CachingMetadataStore, type KeyChangeFeed, type KeyChangeSubscriber } from '../../src/adapters/cache/caching-metadata-store.js';
import type { MetadataStore } from '../../src/ports/metadata-store.js';

/** A store whose getKey answers the current `state` after `delayMs`, counting reads. */
function fakeStore() {
  const fake = {
    state: 'Enabled',
    reads: 0,
    delayMs: 0,
    async getKey(keyId: string) {
      fake.reads++;
      const state = fake.state;
      await new Promise((resolve) => setTimeout(resolve, fake.delayMs));
      return { id: keyId, state } as never;
    },
    async setKeyState(_keyId: string, state: string) {
      fake.state = state;
      return undefined;
    },
    async close() {},
  };
  return fake;
}

function fakeFeed() {
  let subscriber: KeyChangeSubscriber | undefined;
  const feed = {
    live: true,
    isLive: () => feed.live,
    subscribe: (s: KeyChangeSubscriber) => void (subscriber = s),
    notify: (keyId: string) => subscriber?.keyChanged(keyId),
  };
  return feed as typeof feed & KeyChangeFeed;
}

const KEY = '11111111-2222-4333-8444-555555555555';

describe('CachingMetadataStore', () => {
  it('serves repeated reads from memory and drops the key on its own writes', async () => {
    const inner = fakeStore();
    const cache = new CachingMetadataStore(inner as unknown as MetadataStore);
    await cache.getKey(KEY);
    await cache.getKey(KEY);
    expect(inner.reads).toBe(1);
    await cache.setKeyState(KEY, 'Disabled');
    expect(((await cache.getKey(KEY)) as { state: string }).state).toBe('Disabled');
    expect(inner.reads).toBe(2);
  });

  it('when full, drops the oldest key only: the others stay cached', async () => {
    const inner = fakeStore();
    const cache = new CachingMetadataStore(inner as unknown as MetadataStore, undefined, { maxKeys: 2 });
    const keys = ['a', 'b', 'c'].map((c) => KEY.replace(/^1/, c));
    for (const key of keys) await cache.getKey(key);
    expect(inner.reads).toBe(3);
    await cache.getKey(keys[1]!);
    await cache.getKey(keys[2]!);
    expect(inner.reads).toBe(3); // b and c were kept
    await cache.getKey(keys[0]!);
    expect(inner.reads).toBe(4); // a, the oldest, was dropped when c came in
  });

  it('drops a key when the feed says another replica changed it', async () => {
    const inner = fakeStore();
    const feed = fakeFeed();
    const cache = new CachingMetadataStore(inner as unknown as MetadataStore, feed);
    await cache.getKey(KEY);
    inner.state = 'Disabled';
    feed.notify(KEY);
    expect(((await cache.getKey(KEY)) as { state: string }).state).toBe('Disabled');
  });

  it('does not keep a read that was in flight when a change arrived', async () => {
    const inner = fakeStore();
    const feed = fakeFeed();
    const cache = new CachingMetadataStore(inner as unknown as MetadataStore, feed);
    inner.delayMs = 20;
    const stale = cache.getKey(KEY); // reads 'Enabled', answers later
    inner.state = 'Disabled';
    feed.notify(KEY);
    await stale;
    inner.delayMs = 0;
    expect(((await cache.getKey(KEY)) as { state: string }).state).toBe('Disabled');
  });

  it('serves nothing from memory while the feed is not live, and starts empty when it is back', async () => {
    const inner = fakeStore();
    const feed = fakeFeed();
    const cache = new CachingMetadataStore(inner as unknown as MetadataStore, feed);
    await cache.getKey(KEY);
    feed.live = false;
    inner.state = 'Disabled'; // a change whose notification was lost with the connection
    expect(((await cache.getKey(KEY)) as { state: string }).state).toBe('Disabled');
    await cache.getKey(KEY);
    expect(inner.reads).toBe(3);
    feed.live = true;
    expect(((await cache.getKey(KEY)) as { state: string }).state).toBe('Disabled');
    await cache.getKey(KEY);
    expect(inner.reads).toBe(4);
  });
});

describe('CachingMetadataStore.createKey', () => {
  it('reads the new key back once, through the cache, so its first request reads nothing', async () => {
    const reads: string[] = [];
    const read = (name: string, value: unknown) => async () => (reads.push(name), value);
    const inner = {
      createKey: async () => undefined,
      getKey: read('key', { id: KEY, state: 'Enabled' }),
      getKeyVersion: read('version', { id: 'v1' }),
      getKeyPolicy: read('policy', '{"Version":"2012-10-17","Statement":[]}'),
      grantsForKey: read('grants', []),
      listAliasesForKey: read('aliases', []),
      listTags: read('tags', [{ tagKey: 'team', tagValue: 'a' }]),
    };
    const cache = new CachingMetadataStore(inner as unknown as MetadataStore);
    await cache.createKey({ key: { id: KEY }, version: { id: 'v1' }, tags: [], policy: '' } as never);
    expect(reads.sort()).toEqual(['aliases', 'grants', 'key', 'policy', 'tags', 'version']);
    // What the first request needs is served from memory, as the database answered it.
    expect(await cache.getKey(KEY)).toEqual({ id: KEY, state: 'Enabled' });
    expect(await cache.getKeyVersion(KEY, 'v1')).toEqual({ id: 'v1' });
    expect(await cache.listTags(KEY)).toEqual([{ tagKey: 'team', tagValue: 'a' }]);
    await cache.getKeyPolicy(KEY);
    await cache.grantsForKey(KEY);
    await cache.listAliasesForKey(KEY);
    expect(reads).toHaveLength(6);
  });
});
