import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KeyMaterialIntent, MetadataStore, NewKey } from '../../src/ports/metadata-store.js';
import { expectKmsError, freshStoreEachTest, sampleKey, sampleVersion, type StoreFactory } from './metadata-store.fixtures.js';

const T0 = 1_700_000_000_000;
const at = (ms: number) => new Date(T0 + ms);
const MINUTE = 60_000;
const ON_DEMAND = { makeCurrent: true, rotationType: 'ON_DEMAND' } as const;
/** Far enough ahead that every pending intent counts as stale. */
const LATER = at(24 * 60 * MINUTE);

/** Key material intents: the store's half of crash-safe key creation (KeyMaterialIntentStore). */
export function keyMaterialContract(name: string, factory: StoreFactory): void {
  describe(`MetadataStore contract, key material intents: ${name}`, () => {
    const current = freshStoreEachTest(factory);
    let store: MetadataStore;

    beforeEach(() => {
      store = current();
    });

    function intentFor(created: NewKey, recordedAt = at(0)): KeyMaterialIntent {
      return { versionId: created.version.id, keyId: created.key.id, recordedAt };
    }

    it('createKey takes the pending intent of its version: the sweep finds nothing afterwards', async () => {
      const created = sampleKey();
      await store.recordKeyMaterialIntent(intentFor(created));
      await store.createKey(created);
      expect(await store.abandonKeyMaterialIntents(LATER, 100)).toEqual([]);
      expect((await store.getKey(created.key.id))?.currentVersionId).toBe(created.version.id);
    });

    it('addKeyVersion takes the pending intent of its version', async () => {
      const created = sampleKey({ createdAt: at(0) });
      await store.createKey(created);
      const next = sampleVersion(created.key.id, at(MINUTE));
      await store.recordKeyMaterialIntent({ versionId: next.id, keyId: next.keyId, recordedAt: at(MINUTE) });
      await store.addKeyVersion(created.key.id, next, ON_DEMAND);
      expect(await store.abandonKeyMaterialIntents(LATER, 100)).toEqual([]);
      expect((await store.getKey(created.key.id))?.currentVersionId).toBe(next.id);
    });

    it('abandons only intents recorded before the given time, oldest first, and answers them until destroyed', async () => {
      const [older, newer, fresh] = [sampleKey(), sampleKey(), sampleKey()];
      await store.recordKeyMaterialIntent(intentFor(newer, at(2 * MINUTE)));
      await store.recordKeyMaterialIntent(intentFor(older, at(MINUTE)));
      await store.recordKeyMaterialIntent(intentFor(fresh, at(10 * MINUTE)));

      const abandoned = await store.abandonKeyMaterialIntents(at(5 * MINUTE), 100);
      expect(abandoned).toEqual([intentFor(older, at(MINUTE)), intentFor(newer, at(2 * MINUTE))]);
      // Not destroyed yet (a crashed sweep): the next sweep answers them again.
      expect(await store.abandonKeyMaterialIntents(at(5 * MINUTE), 100)).toEqual(abandoned);

      await store.markKeyMaterialDestroyed(older.version.id);
      expect(await store.abandonKeyMaterialIntents(at(5 * MINUTE), 100)).toEqual([intentFor(newer, at(2 * MINUTE))]);
      // The fresh intent stayed pending, so its CreateKey still completes.
      await store.createKey(fresh);
      expect(await store.getKey(fresh.key.id)).toBeDefined();
    });

    it('answers at most `limit` abandoned intents, and refuses a limit that is not a positive integer', async () => {
      for (let i = 0; i < 3; i++) await store.recordKeyMaterialIntent(intentFor(sampleKey(), at(i)));
      expect(await store.abandonKeyMaterialIntents(LATER, 2)).toHaveLength(2);
      expect(await store.abandonKeyMaterialIntents(LATER, 100)).toHaveLength(3);
      await expectKmsError(store.abandonKeyMaterialIntents(LATER, 0), 'ValidationException');
      await expectKmsError(store.abandonKeyMaterialIntents(LATER, 1.5), 'ValidationException');
    });

    it('refuses createKey for an abandoned intent, before and after its object is destroyed, and stores nothing', async () => {
      const created = sampleKey();
      await store.recordKeyMaterialIntent(intentFor(created));
      await store.abandonKeyMaterialIntents(LATER, 100);
      await expectKmsError(store.createKey(created), 'KMSInternalException');
      await store.markKeyMaterialDestroyed(created.version.id);
      await expectKmsError(store.createKey(created), 'KMSInternalException');

      expect(await store.getKey(created.key.id)).toBeUndefined();
      expect(await store.listKeyVersions(created.key.id)).toEqual([]);
      expect(await store.getKeyPolicy(created.key.id)).toBeUndefined();
      expect(await store.listTags(created.key.id)).toEqual([]);
    });

    it('refuses addKeyVersion for an abandoned intent and leaves the key as it was', async () => {
      const created = sampleKey({ createdAt: at(0) });
      await store.createKey(created);
      const next = sampleVersion(created.key.id, at(MINUTE));
      await store.recordKeyMaterialIntent({ versionId: next.id, keyId: next.keyId, recordedAt: at(MINUTE) });
      await store.abandonKeyMaterialIntents(LATER, 100);

      await expectKmsError(store.addKeyVersion(created.key.id, next, ON_DEMAND), 'KMSInternalException');
      expect((await store.getKey(created.key.id))?.currentVersionId).toBe(created.version.id);
      expect((await store.listKeyVersions(created.key.id)).map((v) => v.id)).toEqual([created.version.id]);
      expect(await store.countOnDemandRotations(created.key.id)).toBe(0);
    });

    it('refuses a second intent for the same version id, keeping the first', async () => {
      const created = sampleKey();
      await store.recordKeyMaterialIntent(intentFor(created, at(MINUTE)));
      await expectKmsError(store.recordKeyMaterialIntent(intentFor(created, at(2 * MINUTE))), 'AlreadyExistsException');
      expect(await store.abandonKeyMaterialIntents(LATER, 100)).toEqual([intentFor(created, at(MINUTE))]);
    });

    it('drops a pending intent, but never an abandoned one', async () => {
      const [dropped, kept] = [sampleKey(), sampleKey()];
      await store.recordKeyMaterialIntent(intentFor(dropped));
      await store.dropKeyMaterialIntent(dropped.version.id);
      await store.dropKeyMaterialIntent(randomUUID()); // none recorded: nothing happens
      expect(await store.abandonKeyMaterialIntents(LATER, 100)).toEqual([]);

      await store.recordKeyMaterialIntent(intentFor(kept));
      await store.abandonKeyMaterialIntents(LATER, 100);
      await store.dropKeyMaterialIntent(kept.version.id);
      expect(await store.abandonKeyMaterialIntents(LATER, 100)).toEqual([intentFor(kept)]);
    });

    it('marks only abandoned intents destroyed: a pending one stays pending', async () => {
      const created = sampleKey();
      await store.recordKeyMaterialIntent(intentFor(created));
      await store.markKeyMaterialDestroyed(created.version.id);
      await store.createKey(created);
      expect(await store.getKey(created.key.id)).toBeDefined();
    });
  });
}
