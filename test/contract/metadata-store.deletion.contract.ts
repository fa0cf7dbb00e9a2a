import { randomBytes, randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KeyState } from '../../src/domain/key.js';
import type { MetadataStore, NewKey } from '../../src/ports/metadata-store.js';
import {
  ACCOUNT,
  DAY_MS,
  expectKmsError,
  freshStoreEachTest,
  sampleKey,
  sampleVersion,
  type StoreFactory,
} from './metadata-store.fixtures.js';

const T0 = 1_700_000_000_000;
const at = (ms: number) => new Date(T0 + ms);
const WEEK = 7 * DAY_MS;
const ON_DEMAND = { makeCurrent: true, rotationType: 'ON_DEMAND' } as const;
const AUTOMATIC = { makeCurrent: true, rotationType: 'AUTOMATIC' } as const;

/** ScheduleKeyDeletion, CancelKeyDeletion and the deletion scheduler's store steps. */
export function deletionContract(name: string, factory: StoreFactory): void {
  describe(`MetadataStore contract, scheduled deletion: ${name}`, () => {
    const current = freshStoreEachTest(factory);
    let store: MetadataStore;

    beforeEach(() => {
      store = current();
    });

    async function newKey(state: KeyState = 'Enabled'): Promise<NewKey> {
      const created = sampleKey({ createdAt: at(0), state }, [{ tagKey: 'team', tagValue: 'payments' }]);
      await store.createKey(created);
      return created;
    }

    /**
     * A key with something in every table that names a key: versions, rotations, schedule, tags,
     * aliases, its policy (from createKey) and grants.
     */
    async function fullyDressedKey(): Promise<NewKey> {
      const created = await newKey();
      const id = created.key.id;
      await store.setRotation(id, { enabled: true, periodDays: 90, nextRotationAt: at(1) });
      await store.addKeyVersion(id, sampleVersion(id, at(1)), { ...AUTOMATIC, nextRotationAt: at(2) });
      await store.addKeyVersion(id, sampleVersion(id, at(3)), ON_DEMAND);
      await store.createAlias({ aliasName: `alias/${id}`, keyId: id, account: ACCOUNT, createdAt: at(4) });
      await store.createAlias({ aliasName: `alias/second/${id}`, keyId: id, account: ACCOUNT, createdAt: at(5) });
      for (const name of ['first', undefined]) {
        await store.createGrant(
          {
            grantId: randomBytes(32).toString('hex'),
            keyId: id,
            account: ACCOUNT,
            name,
            granteePrincipal: `arn:aws:iam::${ACCOUNT}:role/developer`,
            retiringPrincipal: `arn:aws:iam::${ACCOUNT}:role/retirer`,
            operations: ['Decrypt'],
            constraints: { encryptionContextSubset: { keyId: id } },
            issuingAccount: `arn:aws:iam::${ACCOUNT}:root`,
            createdAt: at(6),
            grantToken: randomBytes(48).toString('base64url'),
          },
          { maxGrantsPerKey: 10 },
        );
      }
      return created;
    }

    async function everything(keyId: string) {
      return {
        key: await store.getKey(keyId),
        versions: await store.listKeyVersions(keyId),
        rotations: await store.listKeyRotations(keyId, { limit: 100, marker: undefined }),
        onDemand: await store.countOnDemandRotations(keyId),
        schedule: await store.getRotation(keyId),
        tags: await store.listTags(keyId),
        aliases: await store.listAliasesForKey(keyId),
        policy: await store.getKeyPolicy(keyId),
        grants: await store.grantsForKey(keyId),
      };
    }

    it('schedules deletion: PendingDeletion and the deletion date together, and getKey shows the date', async () => {
      const created = await newKey('Disabled');

      const pending = await store.scheduleKeyDeletion(created.key.id, at(WEEK));
      expect(pending).toEqual({ ...created.key, state: 'PendingDeletion', deletionDate: at(WEEK) });
      expect(await store.getKey(created.key.id)).toEqual(pending);
    });

    it('refuses to schedule an unknown key, or one already pending, keeping the first date', async () => {
      const created = await newKey();
      await store.scheduleKeyDeletion(created.key.id, at(WEEK));

      await expectKmsError(store.scheduleKeyDeletion(randomUUID(), at(WEEK)), 'NotFoundException');
      await expectKmsError(store.scheduleKeyDeletion(created.key.id, at(30 * DAY_MS)), 'KMSInvalidStateException');
      const pending = { ...created.key, state: 'PendingDeletion', deletionDate: at(WEEK) };
      expect(await store.getKey(created.key.id)).toEqual(pending);
    });

    it('cancels deletion before the date: Disabled, with no deletion date', async () => {
      const created = await newKey();
      await store.scheduleKeyDeletion(created.key.id, at(WEEK));

      const cancelled = await store.cancelKeyDeletion(created.key.id, at(WEEK - 1));
      expect(cancelled).toEqual({ ...created.key, state: 'Disabled', deletionDate: undefined });
      expect(await store.getKey(created.key.id)).toEqual(cancelled);
      expect(await store.listKeysDueForDeletion(at(10 * WEEK), 10)).toEqual([]);
    });

    it('refuses to cancel an unknown key, one not pending, or one whose date has come, changing nothing', async () => {
      const live = await newKey();
      const due = await newKey();
      await store.scheduleKeyDeletion(due.key.id, at(WEEK));

      await expectKmsError(store.cancelKeyDeletion(randomUUID(), at(0)), 'NotFoundException');
      await expectKmsError(store.cancelKeyDeletion(live.key.id, at(0)), 'KMSInvalidStateException');
      await expectKmsError(store.cancelKeyDeletion(due.key.id, at(WEEK)), 'KMSInvalidStateException');
      expect(await store.getKey(live.key.id)).toEqual(live.key);
      expect(await store.getKey(due.key.id)).toEqual({ ...due.key, state: 'PendingDeletion', deletionDate: at(WEEK) });
    });

    it('lists PendingDeletion keys whose date has come, earliest first, up to the limit', async () => {
      const [a, b, c, later, live] = [await newKey(), await newKey(), await newKey(), await newKey(), await newKey()];
      await store.scheduleKeyDeletion(a!.key.id, at(WEEK + 2));
      await store.scheduleKeyDeletion(b!.key.id, at(WEEK));
      await store.scheduleKeyDeletion(c!.key.id, at(WEEK + 1));
      await store.scheduleKeyDeletion(later!.key.id, at(2 * WEEK));
      await store.setKeyState(live!.key.id, 'Disabled');

      expect(await store.listKeysDueForDeletion(at(WEEK + 2), 10)).toEqual([b!.key.id, c!.key.id, a!.key.id]);
      expect(await store.listKeysDueForDeletion(at(WEEK + 2), 2)).toEqual([b!.key.id, c!.key.id]);
      expect(await store.listKeysDueForDeletion(at(WEEK - 1), 10)).toEqual([]);
      await expectKmsError(store.listKeysDueForDeletion(at(WEEK), 0), 'ValidationException');
    });

    it('deletes a pending key\'s metadata and everything naming it in one step; a repeat answers false', async () => {
      const doomed = await fullyDressedKey();
      const neighbour = await fullyDressedKey();
      const neighbourBefore = await everything(neighbour.key.id);
      await store.scheduleKeyDeletion(doomed.key.id, at(WEEK));

      expect(await store.deleteKeyMetadata(doomed.key.id)).toBe(true);
      expect(await everything(doomed.key.id)).toEqual({
        key: undefined,
        versions: [],
        rotations: { items: [], nextMarker: undefined },
        onDemand: 0,
        schedule: undefined,
        tags: [],
        aliases: [],
        policy: undefined,
        grants: [],
      });
      expect(await store.getAlias(ACCOUNT, `alias/${doomed.key.id}`)).toBeUndefined();
      expect(await store.listKeysDueForDeletion(at(WEEK), 10)).toEqual([]);
      expect(await everything(neighbour.key.id)).toEqual(neighbourBefore);
      // The scheduler's next run finds nothing left to do.
      expect(await store.deleteKeyMetadata(doomed.key.id)).toBe(false);
      expect(await store.deleteKeyMetadata(randomUUID())).toBe(false);
      // The alias names are free again.
      const reused = await store.createAlias({
        aliasName: `alias/${doomed.key.id}`,
        keyId: neighbour.key.id,
        account: ACCOUNT,
        createdAt: at(9),
      });
      expect(reused.keyId).toBe(neighbour.key.id);
    });

    it('refuses to delete the metadata of a key that is not PendingDeletion, removing nothing', async () => {
      const created = await fullyDressedKey();
      const before = await everything(created.key.id);

      await expectKmsError(store.deleteKeyMetadata(created.key.id), 'KMSInvalidStateException');
      expect(await everything(created.key.id)).toEqual(before);
    });

    it('keeps a run stopped between the token step and the metadata step unusable, due and resumable', async () => {
      const created = await fullyDressedKey();
      await store.scheduleKeyDeletion(created.key.id, at(WEEK));
      const now = at(WEEK);

      // The run: read the due keys and their versions, destroy the token objects, then stop (crash).
      expect(await store.listKeysDueForDeletion(now, 10)).toEqual([created.key.id]);
      const versionIds = (await store.listKeyVersions(created.key.id)).map((version) => version.id);
      expect(versionIds).toHaveLength(3);

      // Nothing can bring the key back into use while its objects may be gone …
      expect((await store.getKey(created.key.id))?.state).toBe('PendingDeletion');
      await expectKmsError(store.cancelKeyDeletion(created.key.id, now), 'KMSInvalidStateException');
      await expectKmsError(store.scheduleKeyDeletion(created.key.id, at(5 * WEEK)), 'KMSInvalidStateException');
      await expectKmsError(
        store.addKeyVersion(created.key.id, sampleVersion(created.key.id, now), ON_DEMAND),
        'KMSInvalidStateException',
      );
      // … and the next run finds it again, with the same versions to destroy, and finishes.
      expect(await store.listKeysDueForDeletion(at(WEEK + 1), 10)).toEqual([created.key.id]);
      expect((await store.listKeyVersions(created.key.id)).map((version) => version.id)).toEqual(versionIds);
      expect(await store.deleteKeyMetadata(created.key.id)).toBe(true);
      expect(await store.getKey(created.key.id)).toBeUndefined();
    });
  });
}
