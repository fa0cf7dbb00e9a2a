import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../../src/domain/key.js';
import type { MetadataStore, NewKey } from '../../src/ports/metadata-store.js';
import { aliasContract } from './metadata-store.aliases.contract.js';
import { deletionContract } from './metadata-store.deletion.contract.js';
import { grantContract } from './metadata-store.grants.contract.js';
import { keyMaterialContract } from './metadata-store.key-material.contract.js';
import { policyContract } from './metadata-store.policies.contract.js';
import {
  ACCOUNT,
  OTHER_ACCOUNT,
  badMarkers,
  expectKmsError,
  freshStoreEachTest,
  sampleKey,
  type StoreFactory,
} from './metadata-store.fixtures.js';
import { rotationContract } from './metadata-store.rotation.contract.js';
import { tagContract } from './metadata-store.tags.contract.js';

export { sampleKey } from './metadata-store.fixtures.js';

/**
 * Every MetadataStore contract suite, for a runner to call once per implementation
 * (STYLE.md, habit 8): keys here, then aliases, rotation, deletion, key material intents,
 * descriptions and tags, key policies and grants.
 */
export function metadataStoreContracts(
  name: string,
  open: () => Promise<MetadataStore>,
  cleanup?: () => Promise<void> | void,
): void {
  const factory: StoreFactory = { open, cleanup };
  metadataStoreContract(name, open, cleanup);
  aliasContract(name, factory);
  rotationContract(name, factory);
  deletionContract(name, factory);
  keyMaterialContract(name, factory);
  tagContract(name, factory);
  policyContract(name, factory);
  grantContract(name, factory);
}

/**
 * Behaviour every MetadataStore must show (STYLE.md, habit 8). `open` returns a fresh, empty
 * store for each test; the suite closes it, then calls `cleanup` (e.g. to delete a temp file).
 */
export function metadataStoreContract(
  name: string,
  open: () => Promise<MetadataStore>,
  cleanup?: () => Promise<void> | void,
): void {
  describe(`MetadataStore contract: ${name}`, () => {
    const current = freshStoreEachTest({ open, cleanup });
    let store: MetadataStore;

    beforeEach(() => {
      store = current();
    });

    async function nothingStoredFor(keyId: string): Promise<void> {
      expect(await store.getKey(keyId)).toBeUndefined();
      expect(await store.listKeyVersions(keyId)).toEqual([]);
      expect(await store.listTags(keyId)).toEqual([]);
    }

    it('round-trips a key with its tags and first version', async () => {
      const tags = [{ tagKey: 'team', tagValue: 'payments' }, { tagKey: 'env', tagValue: '' }];
      const created = sampleKey({ description: 'ünïcødé ✓' }, tags);
      await store.createKey(created);

      expect(await store.getKey(created.key.id)).toEqual(created.key);
      expect(await store.getKeyVersion(created.key.id, created.version.id)).toEqual(created.version);
      expect(await store.listKeyVersions(created.key.id)).toEqual([created.version]);
      expect(await store.listTags(created.key.id)).toEqual([
        { tagKey: 'env', tagValue: '' },
        { tagKey: 'team', tagValue: 'payments' },
      ]);
    });

    it('round-trips dates to the millisecond, and an absent deletion date as undefined', async () => {
      const createdAt = new Date('2024-02-29T23:59:59.999Z');
      const deletionDate = new Date('2024-03-07T00:00:00.001Z');
      const pending = sampleKey({ createdAt, deletionDate, state: 'PendingDeletion' });
      const live = sampleKey();
      await store.createKey(pending);
      await store.createKey(live);

      const read = await store.getKey(pending.key.id);
      expect(read?.createdAt.getTime()).toBe(createdAt.getTime());
      expect(read?.deletionDate?.getTime()).toBe(deletionDate.getTime());
      expect((await store.getKeyVersion(pending.key.id, pending.version.id))?.createdAt.getTime()).toBe(
        createdAt.getTime(),
      );
      const liveRead = await store.getKey(live.key.id);
      expect(liveRead).toHaveProperty('deletionDate', undefined);
    });

    it('answers undefined or empty for a key it does not hold', async () => {
      await nothingStoredFor(randomUUID());
      expect(await store.getKeyVersion(randomUUID(), randomUUID())).toBeUndefined();
      expect(await store.setKeyState(randomUUID(), 'Disabled')).toBeUndefined();
    });

    it('does not return a version through a key it does not belong to', async () => {
      const a = sampleKey();
      const b = sampleKey();
      await store.createKey(a);
      await store.createKey(b);

      expect(await store.getKeyVersion(b.key.id, a.version.id)).toBeUndefined();
      expect(await store.getKeyVersion(a.key.id, randomUUID())).toBeUndefined();
      expect(await store.getKeyVersion(a.key.id, a.version.id)).toEqual(a.version);
    });

    it('sets the state and returns the updated record, changing nothing else', async () => {
      const created = sampleKey();
      await store.createKey(created);

      const disabled = await store.setKeyState(created.key.id, 'Disabled');
      expect(disabled).toEqual({ ...created.key, state: 'Disabled' });
      expect(await store.getKey(created.key.id)).toEqual(disabled);
      expect((await store.setKeyState(created.key.id, 'Enabled'))?.state).toBe('Enabled');
    });

    it('rejects a duplicate key id and leaves the first key exactly as it was', async () => {
      const first = sampleKey({}, [{ tagKey: 'a', tagValue: '1' }]);
      await store.createKey(first);
      const again = sampleKey({ id: first.key.id, description: 'impostor' }, [{ tagKey: 'b', tagValue: '2' }]);

      await expectKmsError(store.createKey(again), 'AlreadyExistsException');
      expect(await store.getKey(first.key.id)).toEqual(first.key);
      expect(await store.listKeyVersions(first.key.id)).toEqual([first.version]);
      expect(await store.getKeyVersion(first.key.id, again.version.id)).toBeUndefined();
      expect(await store.listTags(first.key.id)).toEqual(first.tags);
    });

    it('rejects a version id already used by another key and writes nothing for the new key', async () => {
      const first = sampleKey();
      await store.createKey(first);
      const second = sampleKey({}, [{ tagKey: 'a', tagValue: '1' }]);
      const clash: NewKey = {
        ...second,
        key: { ...second.key, currentVersionId: first.version.id },
        version: { ...second.version, id: first.version.id },
      };

      await expectKmsError(store.createKey(clash), 'AlreadyExistsException');
      await nothingStoredFor(second.key.id);
      expect(await store.getKeyVersion(first.key.id, first.version.id)).toEqual(first.version);
    });

    it('writes nothing when a later part of createKey fails (duplicate tag keys)', async () => {
      const broken = sampleKey({}, [{ tagKey: 'same', tagValue: '1' }, { tagKey: 'same', tagValue: '2' }]);

      await expect(store.createKey(broken)).rejects.toThrow();
      await nothingStoredFor(broken.key.id);
    });

    it('refuses a key whose current version is not the version created with it', async () => {
      const created = sampleKey();
      const dangling: NewKey = { ...created, key: { ...created.key, currentVersionId: randomUUID() } };

      await expect(store.createKey(dangling)).rejects.toThrow();
      await nothingStoredFor(created.key.id);
    });

    it('lists only the keys of the account asked for', async () => {
      const mine = sampleKey();
      const theirs = sampleKey({ account: OTHER_ACCOUNT });
      await store.createKey(mine);
      await store.createKey(theirs);

      const page = await store.listKeys({ account: ACCOUNT, limit: 100, marker: undefined });
      expect(page).toEqual({ items: [mine.key], nextMarker: undefined });
      const other = await store.listKeys({ account: OTHER_ACCOUNT, limit: 100, marker: undefined });
      expect(other.items.map((key) => key.id)).toEqual([theirs.key.id]);
      expect(await store.listKeys({ account: '999999999999', limit: 10, marker: undefined })).toEqual({
        items: [],
        nextMarker: undefined,
      });
    });

    it('pages through keys in (createdAt, id) order without gaps or duplicates', async () => {
      // Pairs of keys share a creation millisecond, so the order and the marker must use the id too.
      const keys = Array.from({ length: 7 }, (_, i) =>
        sampleKey({ createdAt: new Date(1_700_000_000_000 + Math.floor(i / 2)) }),
      );
      for (const created of [...keys].reverse()) await store.createKey(created);
      await store.createKey(sampleKey({ account: OTHER_ACCOUNT }));
      const expected = keys
        .map((created) => created.key)
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));

      const pages: KeyRecord[][] = [];
      let marker: string | undefined;
      do {
        const page = await store.listKeys({ account: ACCOUNT, limit: 3, marker });
        pages.push(page.items);
        marker = page.nextMarker;
      } while (marker !== undefined && pages.length < 10);

      expect(pages.map((items) => items.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(expected);
    });

    it('gives no next marker when the last page is exactly full', async () => {
      for (let i = 0; i < 4; i++) await store.createKey(sampleKey({ createdAt: new Date(1_700_000_000_000 + i) }));

      const first = await store.listKeys({ account: ACCOUNT, limit: 2, marker: undefined });
      expect(first.nextMarker).toBeDefined();
      const second = await store.listKeys({ account: ACCOUNT, limit: 2, marker: first.nextMarker });
      expect(second.items).toHaveLength(2);
      expect(second.nextMarker).toBeUndefined();
      expect((await store.listKeys({ account: ACCOUNT, limit: 4, marker: undefined })).nextMarker).toBeUndefined();
    });

    it('refuses a limit below one with ValidationException', async () => {
      await expectKmsError(store.listKeys({ account: ACCOUNT, limit: 0, marker: undefined }), 'ValidationException');
    });

    it('rejects a garbled or foreign marker with InvalidMarkerException', async () => {
      for (let i = 0; i < 3; i++) await store.createKey(sampleKey({ createdAt: new Date(1_700_000_000_000 + i) }));
      const { nextMarker } = await store.listKeys({ account: ACCOUNT, limit: 1, marker: undefined });
      expect(nextMarker).toBeDefined();
      const valid = nextMarker ?? '';

      for (const marker of badMarkers(valid)) {
        await expectKmsError(store.listKeys({ account: ACCOUNT, limit: 1, marker }), 'InvalidMarkerException');
      }
    });
  });
}
