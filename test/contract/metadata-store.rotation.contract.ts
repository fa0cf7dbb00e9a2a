import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KeyState } from '../../src/domain/key.js';
import type {
  KeyRotationRecord,
  KeyVersionRotation,
  MetadataStore,
  NewKey,
  RotationType,
} from '../../src/ports/metadata-store.js';
import {
  DAY_MS,
  allPages,
  badMarkers,
  expectKmsError,
  freshStoreEachTest,
  sampleKey,
  sampleVersion,
  type StoreFactory,
} from './metadata-store.fixtures.js';

const T0 = 1_700_000_000_000;
const at = (ms: number) => new Date(T0 + ms);

/** Key versions, ListKeyRotations and the automatic-rotation schedule every MetadataStore must keep. */
export function rotationContract(name: string, factory: StoreFactory): void {
  describe(`MetadataStore contract, rotation: ${name}`, () => {
    const current = freshStoreEachTest(factory);
    let store: MetadataStore;

    beforeEach(() => {
      store = current();
    });

    async function newKey(overrides: { state?: KeyState } = {}): Promise<NewKey> {
      const created = sampleKey({ createdAt: at(0), ...overrides });
      await store.createKey(created);
      return created;
    }

    const onDemand = { makeCurrent: true, rotationType: 'ON_DEMAND' } as const;
    const automatic = (nextRotationAt: Date): KeyVersionRotation => ({
      makeCurrent: true,
      rotationType: 'AUTOMATIC',
      nextRotationAt,
    });

    /** Adds a version made `ms` after T0 to a key. */
    const rotate = (created: NewKey, ms: number, rotation: KeyVersionRotation = onDemand) =>
      store.addKeyVersion(created.key.id, sampleVersion(created.key.id, at(ms)), rotation);
    const firstPage = { limit: 100, marker: undefined };

    /** What a failed addKeyVersion must leave: the key, its versions and its rotations as before. */
    async function unchanged(created: NewKey, rotations: KeyRotationRecord[] = []): Promise<void> {
      expect(await store.getKey(created.key.id)).toEqual(created.key);
      expect(await store.listKeyVersions(created.key.id)).toEqual([created.version]);
      expect((await store.listKeyRotations(created.key.id, firstPage)).items).toEqual(rotations);
    }

    it('adds a version on demand: inserts it, makes it current and records the rotation, in one step', async () => {
      const created = await newKey();
      const version = sampleVersion(created.key.id, at(1000));

      const updated = await store.addKeyVersion(created.key.id, version, onDemand);
      expect(updated).toEqual({ ...created.key, currentVersionId: version.id });
      expect(await store.getKey(created.key.id)).toEqual(updated);
      expect(await store.listKeyVersions(created.key.id)).toEqual([created.version, version]);
      // Every earlier version still decrypts: the first one stays readable.
      expect(await store.getKeyVersion(created.key.id, created.version.id)).toEqual(created.version);
      const rotation = { keyId: created.key.id, versionId: version.id, rotationDate: version.createdAt };
      expect(await store.listKeyRotations(created.key.id, firstPage)).toEqual({
        items: [{ ...rotation, rotationType: 'ON_DEMAND' }],
        nextMarker: undefined,
      });
      expect(await store.countOnDemandRotations(created.key.id)).toBe(1);
    });

    it('refuses a version for an unknown key, of another key, or with a taken id, writing nothing', async () => {
      const created = await newKey();
      const other = await newKey();

      const ghost = randomUUID();
      await expectKmsError(store.addKeyVersion(ghost, sampleVersion(ghost, at(1)), onDemand), 'NotFoundException');
      const foreign = sampleVersion(other.key.id, at(1));
      const notUuid = { ...sampleVersion(created.key.id, at(1)), id: 'v2' };
      for (const version of [foreign, notUuid]) {
        await expectKmsError(store.addKeyVersion(created.key.id, version, onDemand), 'ValidationException');
      }
      for (const taken of [created.version.id, other.version.id]) {
        const clash = { ...sampleVersion(created.key.id, at(1)), id: taken };
        await expectKmsError(store.addKeyVersion(created.key.id, clash, onDemand), 'AlreadyExistsException');
      }
      await unchanged(created);
      await unchanged(other);
      expect(await store.countOnDemandRotations(created.key.id)).toBe(0);
    });

    it('refuses to rotate a key that is not Enabled, writing nothing', async () => {
      const disabled = await newKey({ state: 'Disabled' });
      const pending = await newKey({ state: 'PendingDeletion' });

      await expectKmsError(rotate(disabled, 1), 'DisabledException');
      await expectKmsError(rotate(pending, 1), 'KMSInvalidStateException');
      await unchanged(disabled);
      await unchanged(pending);
    });

    it('refuses the on-demand rotation beyond the limit with LimitExceededException, writing nothing', async () => {
      const created = await newKey();
      const limited = { ...onDemand, maxOnDemandRotations: 2 };
      const versions = [1, 2].map((ms) => sampleVersion(created.key.id, at(ms)));
      for (const version of versions) await store.addKeyVersion(created.key.id, version, limited);

      await expectKmsError(rotate(created, 3, limited), 'LimitExceededException');
      expect(await store.countOnDemandRotations(created.key.id)).toBe(2);
      expect(await store.listKeyVersions(created.key.id)).toEqual([created.version, ...versions]);
      expect((await store.getKey(created.key.id))?.currentVersionId).toBe(versions[1]!.id);
    });

    it('rotates automatically only when due, advancing the schedule in the same step', async () => {
      const created = await newKey();
      await store.setRotation(created.key.id, { enabled: true, periodDays: 90, nextRotationAt: at(90 * DAY_MS) });
      const next = automatic(at(180 * DAY_MS));

      // Not yet due: refused, schedule and versions untouched.
      await expectKmsError(rotate(created, 90 * DAY_MS - 1, next), 'KMSInvalidStateException');
      await unchanged(created);
      expect((await store.getRotation(created.key.id))?.nextRotationAt).toEqual(at(90 * DAY_MS));

      const version = sampleVersion(created.key.id, at(90 * DAY_MS));
      await store.addKeyVersion(created.key.id, version, next);
      expect(await store.getRotation(created.key.id)).toEqual({
        enabled: true,
        periodDays: 90,
        nextRotationAt: at(180 * DAY_MS),
      });
      expect((await store.getKey(created.key.id))?.currentVersionId).toBe(version.id);
      expect(await store.countOnDemandRotations(created.key.id)).toBe(0);

      // A second run (or replica) that read the same due date cannot rotate the key again.
      await expectKmsError(rotate(created, 90 * DAY_MS + 5, next), 'KMSInvalidStateException');
      expect(await store.listKeyVersions(created.key.id)).toEqual([created.version, version]);
    });

    it('refuses an automatic rotation when rotation was never enabled or is disabled', async () => {
      const never = await newKey();
      const off = await newKey();
      await store.setRotation(off.key.id, { enabled: false, periodDays: 365, nextRotationAt: at(1) });
      for (const created of [never, off]) {
        await expectKmsError(rotate(created, 10, automatic(at(DAY_MS))), 'KMSInvalidStateException');
        await unchanged(created);
      }
      expect(await store.getRotation(off.key.id)).toEqual({ enabled: false, periodDays: 365, nextRotationAt: at(1) });
    });

    it('pages through rotations oldest first, and counts only the on-demand ones', async () => {
      const created = await newKey();
      const other = await newKey();
      await store.addKeyVersion(other.key.id, sampleVersion(other.key.id, at(1)), onDemand);
      await store.setRotation(created.key.id, { enabled: true, periodDays: 90, nextRotationAt: at(0) });
      const types: RotationType[] = ['ON_DEMAND', 'AUTOMATIC', 'ON_DEMAND', 'AUTOMATIC', 'ON_DEMAND'];
      const expected: KeyRotationRecord[] = [];
      for (const [i, rotationType] of types.entries()) {
        const version = sampleVersion(created.key.id, at(i * 10));
        const rotation = rotationType === 'ON_DEMAND' ? onDemand : automatic(at(i * 10 + 5));
        await store.addKeyVersion(created.key.id, version, rotation);
        expected.push({ keyId: created.key.id, versionId: version.id, rotationDate: version.createdAt, rotationType });
      }

      const pages = await allPages((page) => store.listKeyRotations(created.key.id, page), 2);
      expect(pages.map((items) => items.length)).toEqual([2, 2, 1]);
      expect(pages.flat()).toEqual(expected);
      expect(await store.countOnDemandRotations(created.key.id)).toBe(3);
      expect(await store.countOnDemandRotations(randomUUID())).toBe(0);
      expect(await store.listKeyRotations(randomUUID(), firstPage)).toEqual({ items: [], nextMarker: undefined });
    });

    it('orders rotations of the same millisecond by version id and rejects markers it did not give', async () => {
      const created = await newKey();
      const versions = [0, 1, 2].map(() => sampleVersion(created.key.id, at(7)));
      for (const version of versions) await store.addKeyVersion(created.key.id, version, onDemand);

      const pages = await allPages((page) => store.listKeyRotations(created.key.id, page), 1);
      expect(pages.flat().map((rotation) => rotation.versionId)).toEqual(versions.map((version) => version.id).sort());
      const { nextMarker } = await store.listKeyRotations(created.key.id, { limit: 1, marker: undefined });
      await expectKmsError(store.listKeyRotations(created.key.id, { ...firstPage, limit: 0 }), 'ValidationException');
      for (const marker of badMarkers(nextMarker ?? '')) {
        await expectKmsError(store.listKeyRotations(created.key.id, { limit: 1, marker }), 'InvalidMarkerException');
      }
    });

    it('stores the rotation schedule whole, refusing an unknown key or an enabled one without a date', async () => {
      const created = await newKey();
      const id = created.key.id;
      const enabled = { enabled: true, periodDays: 365, nextRotationAt: at(365 * DAY_MS) };
      const disabled = { enabled: false, periodDays: 365, nextRotationAt: undefined };
      expect(await store.getRotation(id)).toBeUndefined();

      await store.setRotation(id, enabled);
      expect(await store.getRotation(id)).toEqual(enabled);
      await store.setRotation(id, disabled);
      expect(await store.getRotation(id)).toEqual(disabled);

      await expectKmsError(store.setRotation(randomUUID(), enabled), 'NotFoundException');
      await expectKmsError(store.setRotation(id, { ...enabled, nextRotationAt: undefined }), 'ValidationException');
      await expectKmsError(store.setRotation(id, { ...enabled, periodDays: 0 }), 'ValidationException');
      expect(await store.getRotation(id)).toEqual(disabled);
    });

    it('lists Enabled keys whose enabled rotation is due, earliest first, up to the limit', async () => {
      const due = [await newKey(), await newKey(), await newKey()];
      const [notYet, off, disabled, pending] = [await newKey(), await newKey(), await newKey(), await newKey()];
      await store.setRotation(due[0]!.key.id, { enabled: true, periodDays: 90, nextRotationAt: at(300) });
      await store.setRotation(due[1]!.key.id, { enabled: true, periodDays: 90, nextRotationAt: at(100) });
      await store.setRotation(due[2]!.key.id, { enabled: true, periodDays: 90, nextRotationAt: at(1000) });
      await store.setRotation(notYet!.key.id, { enabled: true, periodDays: 90, nextRotationAt: at(1001) });
      await store.setRotation(off!.key.id, { enabled: false, periodDays: 90, nextRotationAt: at(1) });
      for (const key of [disabled!, pending!]) {
        await store.setRotation(key.key.id, { enabled: true, periodDays: 90, nextRotationAt: at(1) });
      }
      await store.setKeyState(disabled!.key.id, 'Disabled');
      await store.scheduleKeyDeletion(pending!.key.id, at(30 * DAY_MS));

      const [first, second, third] = [due[1]!.key.id, due[0]!.key.id, due[2]!.key.id];
      expect(await store.listKeysDueForRotation(at(1000), 10)).toEqual([first, second, third]);
      expect(await store.listKeysDueForRotation(at(1000), 2)).toEqual([first, second]);
      expect(await store.listKeysDueForRotation(at(99), 10)).toEqual([]);
      await expectKmsError(store.listKeysDueForRotation(at(1000), 0), 'ValidationException');
    });
  });
}
