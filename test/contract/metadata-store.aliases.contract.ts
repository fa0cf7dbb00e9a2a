import { beforeEach, describe, expect, it } from 'vitest';
import type { AliasRecord, MetadataStore, NewAlias } from '../../src/ports/metadata-store.js';
import {
  ACCOUNT,
  OTHER_ACCOUNT,
  allPages,
  badMarkers,
  expectKmsError,
  freshStoreEachTest,
  sampleKey,
  type StoreFactory,
} from './metadata-store.fixtures.js';

const T0 = new Date(1_700_000_000_000);
const LATER = new Date(1_700_000_050_505);
const MISSING_KEY = '00000000-0000-4000-8000-000000000000';

/** Aliases (AWS KMS CreateAlias, UpdateAlias, DeleteAlias, ListAliases) every MetadataStore must keep. */
export function aliasContract(name: string, factory: StoreFactory): void {
  describe(`MetadataStore contract, aliases: ${name}`, () => {
    const current = freshStoreEachTest(factory);
    let store: MetadataStore;

    beforeEach(() => {
      store = current();
    });

    async function newKeyId(account = ACCOUNT): Promise<string> {
      const created = sampleKey({ account });
      await store.createKey(created);
      return created.key.id;
    }

    const alias = (aliasName: string, keyId: string, account = ACCOUNT, createdAt = T0): NewAlias => ({
      aliasName,
      keyId,
      account,
      createdAt,
    });

    const stored = (created: NewAlias, lastUpdatedAt = created.createdAt): AliasRecord => ({
      ...created,
      lastUpdatedAt,
    });

    it('creates an alias and reads it back with lastUpdatedAt equal to createdAt', async () => {
      const keyId = await newKeyId();
      const created = alias('alias/payments/Orders_2024-x', keyId);

      expect(await store.createAlias(created)).toEqual(stored(created));
      expect(await store.getAlias(ACCOUNT, created.aliasName)).toEqual(stored(created));
      expect(await store.getAlias(ACCOUNT, 'alias/payments/orders_2024-x')).toBeUndefined();
      expect(await store.getAlias(OTHER_ACCOUNT, created.aliasName)).toBeUndefined();
    });

    it('keeps alias names per account: the same name may exist in two accounts', async () => {
      const mine = alias('alias/shared', await newKeyId());
      const theirs = alias('alias/shared', await newKeyId(OTHER_ACCOUNT), OTHER_ACCOUNT, LATER);
      await store.createAlias(mine);
      await store.createAlias(theirs);

      expect(await store.getAlias(ACCOUNT, 'alias/shared')).toEqual(stored(mine));
      expect(await store.getAlias(OTHER_ACCOUNT, 'alias/shared')).toEqual(stored(theirs));
    });

    it('rejects a name the account already has with AlreadyExistsException, keeping the first alias', async () => {
      const first = alias('alias/app', await newKeyId());
      await store.createAlias(first);

      for (const keyId of [await newKeyId(), first.keyId]) {
        await expectKmsError(store.createAlias(alias('alias/app', keyId, ACCOUNT, LATER)), 'AlreadyExistsException');
      }
      expect(await store.getAlias(ACCOUNT, 'alias/app')).toEqual(stored(first));
      expect((await store.listAliases({ account: ACCOUNT, limit: 10, marker: undefined })).items).toHaveLength(1);
    });

    it('refuses an alias for a key that does not exist in its account, storing nothing', async () => {
      const foreignKey = await newKeyId(OTHER_ACCOUNT);

      await expectKmsError(store.createAlias(alias('alias/ghost', MISSING_KEY)), 'NotFoundException');
      await expectKmsError(store.createAlias(alias('alias/foreign', foreignKey)), 'NotFoundException');
      expect(await store.getAlias(ACCOUNT, 'alias/ghost')).toBeUndefined();
      expect(await store.getAlias(ACCOUNT, 'alias/foreign')).toBeUndefined();
      expect(await store.listAliasesForKey(foreignKey)).toEqual([]);
    });

    it('points an alias at another key, keeping createdAt and setting lastUpdatedAt', async () => {
      const created = alias('alias/app', await newKeyId());
      await store.createAlias(created);
      const target = await newKeyId();

      const updated = await store.updateAlias(ACCOUNT, 'alias/app', target, LATER);
      expect(updated).toEqual({ ...stored(created), keyId: target, lastUpdatedAt: LATER });
      expect(await store.getAlias(ACCOUNT, 'alias/app')).toEqual(updated);
      expect(await store.listAliasesForKey(created.keyId)).toEqual([]);
      expect(await store.listAliasesForKey(target)).toEqual([updated]);
    });

    it('refuses to update a missing alias, or towards a key missing from the account, changing nothing', async () => {
      const created = alias('alias/app', await newKeyId());
      await store.createAlias(created);
      const theirs = alias('alias/app', await newKeyId(OTHER_ACCOUNT), OTHER_ACCOUNT);
      await store.createAlias(theirs);
      const target = await newKeyId();

      await expectKmsError(store.updateAlias(ACCOUNT, 'alias/missing', target, LATER), 'NotFoundException');
      await expectKmsError(store.updateAlias(ACCOUNT, 'alias/app', MISSING_KEY, LATER), 'NotFoundException');
      await expectKmsError(store.updateAlias(ACCOUNT, 'alias/app', theirs.keyId, LATER), 'NotFoundException');
      await expectKmsError(store.updateAlias(OTHER_ACCOUNT, 'alias/app', target, LATER), 'NotFoundException');
      expect(await store.getAlias(ACCOUNT, 'alias/app')).toEqual(stored(created));
      expect(await store.getAlias(OTHER_ACCOUNT, 'alias/app')).toEqual(stored(theirs));
      expect(await store.getAlias(ACCOUNT, 'alias/missing')).toBeUndefined();
    });

    it('deletes an alias of one account only, answering false when there is none', async () => {
      const keyId = await newKeyId();
      await store.createAlias(alias('alias/app', keyId));
      const theirs = alias('alias/app', await newKeyId(OTHER_ACCOUNT), OTHER_ACCOUNT);
      await store.createAlias(theirs);

      expect(await store.deleteAlias(ACCOUNT, 'alias/app')).toBe(true);
      expect(await store.deleteAlias(ACCOUNT, 'alias/app')).toBe(false);
      expect(await store.getAlias(ACCOUNT, 'alias/app')).toBeUndefined();
      expect(await store.getAlias(OTHER_ACCOUNT, 'alias/app')).toEqual(stored(theirs));
      expect(await store.getKey(keyId)).toBeDefined();
      // The name is free again.
      await store.createAlias(alias('alias/app', keyId, ACCOUNT, LATER));
      expect((await store.getAlias(ACCOUNT, 'alias/app'))?.createdAt).toEqual(LATER);
    });

    it('lists the aliases of a key, and only those', async () => {
      const [a, b] = [await newKeyId(), await newKeyId()];
      const forA = [alias('alias/a2', a, ACCOUNT, LATER), alias('alias/a1', a)];
      for (const created of [...forA, alias('alias/b', b)]) await store.createAlias(created);

      expect(await store.listAliasesForKey(a)).toEqual([stored(forA[1]!), stored(forA[0]!)]);
      expect((await store.listAliasesForKey(b)).map((entry) => entry.aliasName)).toEqual(['alias/b']);
      expect(await store.listAliasesForKey(await newKeyId())).toEqual([]);
    });

    it('pages through an account\'s aliases in (createdAt, name) order, optionally for one key', async () => {
      const [a, b] = [await newKeyId(), await newKeyId()];
      // Pairs share a creation millisecond, so the order and the marker must use the name too.
      const created = Array.from({ length: 7 }, (_, i) =>
        alias(`alias/n${6 - i}`, i % 2 === 0 ? a : b, ACCOUNT, new Date(T0.getTime() + Math.floor(i / 2))),
      );
      for (const entry of [...created].reverse()) await store.createAlias(entry);
      await store.createAlias(alias('alias/n0', await newKeyId(OTHER_ACCOUNT), OTHER_ACCOUNT));
      const expected = created
        .map((entry) => stored(entry))
        .sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime() || (x.aliasName < y.aliasName ? -1 : 1));

      const pages = await allPages((page) => store.listAliases({ account: ACCOUNT, ...page }), 3);
      expect(pages.map((items) => items.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(expected);

      const forA = await allPages((page) => store.listAliases({ account: ACCOUNT, keyId: a, ...page }), 2);
      expect(forA.map((items) => items.length)).toEqual([2, 2]);
      expect(forA.flat()).toEqual(expected.filter((entry) => entry.keyId === a));
      expect(await store.listAliases({ account: OTHER_ACCOUNT, keyId: a, limit: 10, marker: undefined })).toEqual({
        items: [],
        nextMarker: undefined,
      });
    });

    it('refuses a limit below one and markers it did not give, including a ListKeys marker', async () => {
      const keyIds = [await newKeyId(), await newKeyId()];
      await store.createAlias(alias('alias/one', keyIds[0]!));
      await store.createAlias(alias('alias/two', keyIds[0]!, ACCOUNT, LATER));
      const { nextMarker } = await store.listAliases({ account: ACCOUNT, limit: 1, marker: undefined });
      const keysMarker = (await store.listKeys({ account: ACCOUNT, limit: 1, marker: undefined })).nextMarker;
      expect(nextMarker).toBeDefined();
      expect(keysMarker).toBeDefined();

      await expectKmsError(store.listAliases({ account: ACCOUNT, limit: 0, marker: undefined }), 'ValidationException');
      // Alias names have no fixed shape, so one altered marker, `${valid}x`, decodes to the well-formed
      // position after 'alias/one1': a place to start, still within the account, not an error.
      const valid = nextMarker ?? '';
      const garbled = badMarkers(valid).filter((marker) => marker !== `${valid}x`);
      for (const marker of [...garbled, keysMarker ?? '']) {
        await expectKmsError(store.listAliases({ account: ACCOUNT, limit: 1, marker }), 'InvalidMarkerException');
      }
      const next = await store.listAliases({ account: ACCOUNT, limit: 1, marker: nextMarker });
      expect(next.items.map((entry) => entry.aliasName)).toEqual(['alias/two']);
      expect(next.nextMarker).toBeUndefined();
    });
  });
}
