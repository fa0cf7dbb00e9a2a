import { randomBytes, randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Grant } from '../../src/policy/grants.js';
import type { GrantRecord, MetadataStore } from '../../src/ports/metadata-store.js';
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

const T0 = 1_700_000_000_000;
const at = (ms: number) => new Date(T0 + ms);
const DEVELOPER = `arn:aws:iam::${ACCOUNT}:role/developer`;
const RETIRER = `arn:aws:iam::${ACCOUNT}:role/retirer`;
const ISSUER = `arn:aws:iam::${ACCOUNT}:root`;
const LIMIT_3 = { maxGrantsPerKey: 3 };
const AWS_LIMIT = { maxGrantsPerKey: 50_000 };

const newGrantId = () => randomBytes(32).toString('hex');
/** Opaque to the store; long and base64url like the tokens the grant operations make. */
const newGrantToken = () => randomBytes(96).toString('base64url');

/** Sorted as every grant listing orders: (createdAt, grantId). */
const byPosition = (a: GrantRecord, b: GrantRecord) =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.grantId < b.grantId ? -1 : 1);

/** Grants (AWS KMS CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant). */
export function grantContract(name: string, factory: StoreFactory): void {
  describe(`MetadataStore contract, grants: ${name}`, () => {
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

    /** A grant with only the required fields; fresh id and token each call. */
    const grant = (keyId: string, fields: Partial<GrantRecord> = {}): GrantRecord => ({
      grantId: newGrantId(),
      keyId,
      account: ACCOUNT,
      granteePrincipal: DEVELOPER,
      operations: ['Decrypt', 'Encrypt'],
      issuingAccount: ISSUER,
      createdAt: at(0),
      grantToken: newGrantToken(),
      ...fields,
    });

    /** Everything the store can say about a key's grants, to show a failure changed nothing. */
    async function grantsOf(keyId: string) {
      return {
        all: await store.grantsForKey(keyId),
        listed: await store.listGrants(keyId, { limit: 100, marker: undefined }),
      };
    }

    describe('creating and reading', () => {
      it('stores a grant with every field and returns it exactly from every read', async () => {
        const keyId = await newKeyId();
        const full = grant(keyId, {
          name: 'orders-service',
          retiringPrincipal: RETIRER,
          operations: ['GenerateDataKey', 'Decrypt', 'RetireGrant'],
          constraints: { encryptionContextSubset: { Department: 'IT', 'ünï': 'cødé ✓' } },
          createdAt: at(123),
        });

        expect(await store.createGrant(full, AWS_LIMIT)).toStrictEqual(full);
        expect(await store.getGrant(keyId, full.grantId)).toStrictEqual(full);
        expect(await store.getGrantByToken(full.grantToken)).toStrictEqual(full);
        expect(await store.grantsForKey(keyId)).toStrictEqual([full]);
        expect(await store.findGrantsByName(keyId, 'orders-service')).toStrictEqual([full]);
        expect(await store.listGrants(keyId, { limit: 10, marker: undefined })).toStrictEqual({
          items: [full],
          nextMarker: undefined,
        });
        expect((await store.listRetirableGrants(RETIRER, { limit: 10, marker: undefined })).items).toStrictEqual([full]);
      });

      it('returns a grant without name, retiring principal or constraints with those fields absent', async () => {
        const keyId = await newKeyId();
        const bare = grant(keyId, { operations: ['Sign'] });

        const created = await store.createGrant(bare, AWS_LIMIT);
        const read = await store.getGrant(keyId, bare.grantId);
        for (const record of [created, read]) {
          expect(record).toStrictEqual(bare);
          expect(record).not.toHaveProperty('name');
          expect(record).not.toHaveProperty('retiringPrincipal');
          expect(record).not.toHaveProperty('constraints');
        }
      });

      it('round-trips constraints exactly, including an empty EncryptionContextEquals', async () => {
        const keyId = await newKeyId();
        const constraints: GrantRecord['constraints'][] = [
          { encryptionContextEquals: { purpose: 'backup' } },
          { encryptionContextSubset: { tenant: 't-1', region: '' } },
          { encryptionContextEquals: { a: '1' }, encryptionContextSubset: { b: '2' } },
          // "Only an empty encryption context" is not "no constraint".
          { encryptionContextEquals: {} },
          {},
          // Keys that differ only by case, quotes, newlines and characters beyond Latin-1 stay distinct and whole.
          { encryptionContextSubset: { Dept: 'A', dept: 'a', 'quo"te': 'line\nbreak\\', '日本': '𝄞 ✓' } },
        ];
        const grants = constraints.map((each, i) => grant(keyId, { constraints: each, createdAt: at(i) }));
        for (const each of grants) await store.createGrant(each, AWS_LIMIT);

        expect(await store.grantsForKey(keyId)).toStrictEqual(grants);
        for (const each of grants) expect(await store.getGrant(keyId, each.grantId)).toStrictEqual(each);
      });

      it('keeps the operations in the order given', async () => {
        const keyId = await newKeyId();
        const ordered = grant(keyId, { operations: ['ReEncryptTo', 'Decrypt', 'DescribeKey', 'ReEncryptFrom'] });
        await store.createGrant(ordered, AWS_LIMIT);

        expect((await store.getGrant(keyId, ordered.grantId))?.operations).toEqual(ordered.operations);
      });

      it('gives the evaluator grants it can use as they are', async () => {
        const keyId = await newKeyId();
        await store.createGrant(grant(keyId, { constraints: { encryptionContextEquals: { k: 'v' } } }), AWS_LIMIT);

        const forEvaluator: readonly Grant[] = await store.grantsForKey(keyId);
        expect(forEvaluator.map((each) => each.constraints)).toEqual([{ encryptionContextEquals: { k: 'v' } }]);
      });

      it('answers empty or undefined for keys, ids and tokens it does not hold', async () => {
        const keyId = await newKeyId();
        const held = grant(keyId);
        await store.createGrant(held, AWS_LIMIT);
        const otherKey = await newKeyId();

        expect(await store.grantsForKey(randomUUID())).toEqual([]);
        expect(await store.grantsForKey(otherKey)).toEqual([]);
        expect(await store.getGrant(otherKey, held.grantId)).toBeUndefined();
        expect(await store.getGrant(keyId, newGrantId())).toBeUndefined();
        expect(await store.getGrant(keyId, 'not-a-grant-id')).toBeUndefined();
        expect(await store.getGrantByToken(newGrantToken())).toBeUndefined();
        expect(await store.getGrantByToken(held.grantToken.slice(1))).toBeUndefined();
        expect(await store.findGrantsByName(keyId, 'nameless')).toEqual([]);
        expect(await store.listGrants(randomUUID(), { limit: 5, marker: undefined })).toEqual({ items: [], nextMarker: undefined });
      });
    });

    describe('refusals that write nothing', () => {
      it('refuses a grant on a key that does not exist, or is not in the grant\'s account', async () => {
        const theirs = await newKeyId(OTHER_ACCOUNT);
        const missing = grant(randomUUID());
        const misfiled = grant(theirs, { account: ACCOUNT });

        await expectKmsError(store.createGrant(missing, AWS_LIMIT), 'NotFoundException');
        await expectKmsError(store.createGrant(misfiled, AWS_LIMIT), 'NotFoundException');
        expect(await store.getGrantByToken(missing.grantToken)).toBeUndefined();
        expect(await store.getGrantByToken(misfiled.grantToken)).toBeUndefined();
        expect(await grantsOf(theirs)).toEqual({ all: [], listed: { items: [], nextMarker: undefined } });
      });

      it('refuses a grant id that is not 64 lowercase hex digits with ValidationException', async () => {
        const keyId = await newKeyId();
        const badIds = ['', randomUUID(), newGrantId().slice(1), `${newGrantId()}0`, newGrantId().toUpperCase(), `g${newGrantId().slice(1)}`];

        for (const grantId of badIds) {
          await expectKmsError(store.createGrant(grant(keyId, { grantId }), AWS_LIMIT), 'ValidationException');
        }
        expect(await store.grantsForKey(keyId)).toEqual([]);
      });

      it('refuses a grant id or grant token already stored, on this key or another', async () => {
        const [a, b] = [await newKeyId(), await newKeyId()];
        const first = grant(a, { name: 'first' });
        await store.createGrant(first, AWS_LIMIT);
        const before = { a: await grantsOf(a), b: await grantsOf(b) };

        const clashes = [
          grant(a, { grantId: first.grantId, granteePrincipal: RETIRER }),
          grant(b, { grantId: first.grantId }),
          grant(a, { grantToken: first.grantToken, granteePrincipal: RETIRER }),
          grant(b, { grantToken: first.grantToken }),
        ];
        for (const clash of clashes) await expectKmsError(store.createGrant(clash, AWS_LIMIT), 'AlreadyExistsException');
        expect({ a: await grantsOf(a), b: await grantsOf(b) }).toEqual(before);
        expect(await store.getGrantByToken(first.grantToken)).toStrictEqual(first);
        expect(await store.getGrant(a, first.grantId)).toStrictEqual(first);
      });
    });

    describe('the grants-per-key limit', () => {
      it('allows exactly maxGrantsPerKey grants per key, counting each key alone', async () => {
        const [full, other] = [await newKeyId(), await newKeyId()];
        const three = [0, 1, 2].map((i) => grant(full, { createdAt: at(i) }));
        for (const each of three) await store.createGrant(each, LIMIT_3);

        const fourth = grant(full, { createdAt: at(3) });
        const error = await expectKmsError(store.createGrant(fourth, LIMIT_3), 'LimitExceededException');
        expect(error.message).toContain('3');
        expect(await store.grantsForKey(full)).toStrictEqual(three);
        expect(await store.getGrantByToken(fourth.grantToken)).toBeUndefined();
        // Another key has its own count; a larger limit lets the full key grow.
        for (const i of [0, 1, 2]) await store.createGrant(grant(other, { createdAt: at(i) }), LIMIT_3);
        await store.createGrant(fourth, { maxGrantsPerKey: 4 });
        expect(await store.grantsForKey(full)).toHaveLength(4);
      });

      it('frees a place when a grant is retired or revoked', async () => {
        const keyId = await newKeyId();
        const three = [0, 1, 2].map((i) => grant(keyId, { createdAt: at(i) }));
        for (const each of three) await store.createGrant(each, LIMIT_3);
        await expectKmsError(store.createGrant(grant(keyId), LIMIT_3), 'LimitExceededException');

        expect(await store.deleteGrant(keyId, three[1]!.grantId)).toBe(true);
        const replacement = grant(keyId, { createdAt: at(9) });
        expect(await store.createGrant(replacement, LIMIT_3)).toStrictEqual(replacement);
        await expectKmsError(store.createGrant(grant(keyId), LIMIT_3), 'LimitExceededException');
        expect(await store.grantsForKey(keyId)).toStrictEqual([three[0], three[2], replacement]);
      });

      it('lets no more than the limit through when CreateGrant calls race', async () => {
        const keyId = await newKeyId();
        const racers = Array.from({ length: 8 }, (_, i) => grant(keyId, { createdAt: at(i) }));

        const outcomes = await Promise.allSettled(racers.map((each) => store.createGrant(each, LIMIT_3)));
        const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled');
        const rejected = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as Error] : []));
        expect(fulfilled).toHaveLength(3);
        expect(rejected.map((reason) => reason.name)).toEqual(Array(5).fill('LimitExceededException'));
        expect(await store.grantsForKey(keyId)).toHaveLength(3);
      });

      it('refuses a limit below one with ValidationException', async () => {
        const keyId = await newKeyId();
        for (const maxGrantsPerKey of [0, -1, 1.5, Number.NaN]) {
          await expectKmsError(store.createGrant(grant(keyId), { maxGrantsPerKey }), 'ValidationException');
        }
        expect(await store.grantsForKey(keyId)).toEqual([]);
      });
    });

    describe('CreateGrant\'s Name: retries return the grant already made', () => {
      it('returns the existing grant for a retry with the same parameters, writing nothing', async () => {
        const keyId = await newKeyId();
        const original = grant(keyId, {
          name: 'retry-me',
          retiringPrincipal: RETIRER,
          operations: ['Encrypt', 'Decrypt'],
          constraints: { encryptionContextSubset: { a: '1', b: '2' } },
        });
        await store.createGrant(original, LIMIT_3);

        // Same parameters: operations in another order and repeated, context pairs in another order.
        const retry = grant(keyId, {
          name: 'retry-me',
          retiringPrincipal: RETIRER,
          operations: ['Decrypt', 'Encrypt', 'Decrypt'],
          constraints: { encryptionContextSubset: { b: '2', a: '1' } },
          createdAt: at(500),
        });
        expect(await store.createGrant(retry, LIMIT_3)).toStrictEqual(original);
        expect(await store.grantsForKey(keyId)).toStrictEqual([original]);
        expect(await store.getGrantByToken(retry.grantToken)).toBeUndefined();
        expect(await store.getGrant(keyId, retry.grantId)).toBeUndefined();
      });

      it('treats absent constraints and constraints with no members as the same', async () => {
        const keyId = await newKeyId();
        const original = grant(keyId, { name: 'n' });
        await store.createGrant(original, AWS_LIMIT);

        expect((await store.createGrant(grant(keyId, { name: 'n', constraints: {} }), AWS_LIMIT)).grantId).toBe(original.grantId);
        expect(await store.grantsForKey(keyId)).toHaveLength(1);
      });

      it('answers a retry at the limit with the existing grant, not LimitExceededException', async () => {
        const keyId = await newKeyId();
        const named = grant(keyId, { name: 'at-limit', createdAt: at(0) });
        for (const each of [named, grant(keyId, { createdAt: at(1) }), grant(keyId, { createdAt: at(2) })]) {
          await store.createGrant(each, LIMIT_3);
        }

        expect((await store.createGrant(grant(keyId, { name: 'at-limit' }), LIMIT_3)).grantId).toBe(named.grantId);
        await expectKmsError(store.createGrant(grant(keyId, { name: 'at-limit', granteePrincipal: RETIRER }), LIMIT_3), 'LimitExceededException');
      });

      it('makes a new grant when a parameter differs, and still finds each grant of the name again', async () => {
        const keyId = await newKeyId();
        const original = grant(keyId, { name: 'shared', createdAt: at(0) });
        await store.createGrant(original, AWS_LIMIT);

        const variants: Partial<GrantRecord>[] = [
          { granteePrincipal: RETIRER },
          { retiringPrincipal: RETIRER },
          { issuingAccount: `arn:aws:iam::${OTHER_ACCOUNT}:root` },
          { operations: ['Decrypt'] },
          { operations: ['Decrypt', 'Encrypt', 'DescribeKey'] },
          { constraints: { encryptionContextEquals: {} } },
          { constraints: { encryptionContextSubset: { a: '1' } } },
        ];
        const made: GrantRecord[] = [original];
        for (const [i, variant] of variants.entries()) {
          const different = grant(keyId, { name: 'shared', createdAt: at(i + 1), ...variant });
          expect(await store.createGrant(different, AWS_LIMIT)).toStrictEqual(different);
          made.push(different);
        }
        // Subset {a:'1'} and subset {a:'1', b:'2'} differ; Equals and Subset with the same pairs differ.
        for (const constraints of [{ encryptionContextSubset: { a: '1', b: '2' } }, { encryptionContextEquals: { a: '1' } }]) {
          const different = grant(keyId, { name: 'shared', createdAt: at(made.length), constraints });
          expect((await store.createGrant(different, AWS_LIMIT)).grantId).toBe(different.grantId);
          made.push(different);
        }

        expect(await store.findGrantsByName(keyId, 'shared')).toStrictEqual(made);
        // A retry of any of them, older or newer, gets that one back.
        for (const each of [made[0]!, made[3]!, made[made.length - 1]!]) {
          const retry = { ...each, grantId: newGrantId(), grantToken: newGrantToken(), createdAt: at(999) };
          expect((await store.createGrant(retry, AWS_LIMIT)).grantId).toBe(each.grantId);
        }
        expect(await store.grantsForKey(keyId)).toHaveLength(made.length);
      });

      it('scopes names to a key, matches them exactly, and never matches a grant without a name', async () => {
        const [a, b] = [await newKeyId(), await newKeyId()];
        const onA = grant(a, { name: 'Orders' });
        await store.createGrant(onA, AWS_LIMIT);

        const onB = grant(b, { name: 'Orders' });
        expect((await store.createGrant(onB, AWS_LIMIT)).grantId).toBe(onB.grantId);
        const otherCase = grant(a, { name: 'orders' });
        expect((await store.createGrant(otherCase, AWS_LIMIT)).grantId).toBe(otherCase.grantId);
        const unnamed = [grant(a), grant(a)];
        for (const each of unnamed) expect((await store.createGrant(each, AWS_LIMIT)).grantId).toBe(each.grantId);

        expect(await store.findGrantsByName(a, 'Orders')).toStrictEqual([onA]);
        expect(await store.findGrantsByName(a, 'orders')).toStrictEqual([otherCase]);
        expect(await store.findGrantsByName(b, 'Orders')).toStrictEqual([onB]);
        expect(await store.grantsForKey(a)).toHaveLength(4);
      });

      it('makes one grant when retries of the same named request race', async () => {
        const keyId = await newKeyId();
        const retries = Array.from({ length: 6 }, (_, i) => grant(keyId, { name: 'racing', createdAt: at(i) }));

        const returned = await Promise.all(retries.map((each) => store.createGrant(each, AWS_LIMIT)));
        expect(new Set(returned.map((each) => each.grantId)).size).toBe(1);
        expect(await store.grantsForKey(keyId)).toStrictEqual([returned[0]]);
      });
    });

    describe('retiring and revoking', () => {
      it('deletes a grant of its key only, answering false when there is none', async () => {
        const [a, b] = [await newKeyId(), await newKeyId()];
        const doomed = grant(a, { retiringPrincipal: RETIRER, name: 'doomed' });
        const kept = grant(a, { createdAt: at(1) });
        for (const each of [doomed, kept]) await store.createGrant(each, AWS_LIMIT);

        expect(await store.deleteGrant(b, doomed.grantId)).toBe(false);
        expect(await store.getGrant(a, doomed.grantId)).toStrictEqual(doomed);
        expect(await store.deleteGrant(a, doomed.grantId)).toBe(true);
        expect(await store.deleteGrant(a, doomed.grantId)).toBe(false);
        expect(await store.deleteGrant(a, 'not-a-grant-id')).toBe(false);

        expect(await store.getGrant(a, doomed.grantId)).toBeUndefined();
        expect(await store.getGrantByToken(doomed.grantToken)).toBeUndefined();
        expect(await store.findGrantsByName(a, 'doomed')).toEqual([]);
        expect((await store.listRetirableGrants(RETIRER, { limit: 10, marker: undefined })).items).toEqual([]);
        expect(await store.grantsForKey(a)).toStrictEqual([kept]);
      });

      it('finds a grant by its token whatever its key, for RetireGrant', async () => {
        const [a, b] = [await newKeyId(), await newKeyId(OTHER_ACCOUNT)];
        const onA = grant(a);
        const onB = grant(b, { account: OTHER_ACCOUNT });
        for (const each of [onA, onB]) await store.createGrant(each, AWS_LIMIT);

        expect(await store.getGrantByToken(onA.grantToken)).toStrictEqual(onA);
        expect(await store.getGrantByToken(onB.grantToken)).toStrictEqual(onB);
      });

      it('removes every grant of a key with deleteKeyMetadata, and only then', async () => {
        const [doomed, neighbour] = [await newKeyId(), await newKeyId()];
        const doomedGrants = [0, 1].map((i) => grant(doomed, { retiringPrincipal: RETIRER, name: `n${i}`, createdAt: at(i) }));
        const neighbourGrant = grant(neighbour, { retiringPrincipal: RETIRER, createdAt: at(5) });
        for (const each of [...doomedGrants, neighbourGrant]) await store.createGrant(each, AWS_LIMIT);

        await expectKmsError(store.deleteKeyMetadata(doomed), 'KMSInvalidStateException');
        expect(await store.grantsForKey(doomed)).toStrictEqual(doomedGrants);
        await store.scheduleKeyDeletion(doomed, at(7 * 24 * 3600 * 1000));
        expect(await store.deleteKeyMetadata(doomed)).toBe(true);

        expect(await grantsOf(doomed)).toEqual({ all: [], listed: { items: [], nextMarker: undefined } });
        expect(await store.findGrantsByName(doomed, 'n0')).toEqual([]);
        for (const each of doomedGrants) {
          expect(await store.getGrant(doomed, each.grantId)).toBeUndefined();
          expect(await store.getGrantByToken(each.grantToken)).toBeUndefined();
        }
        expect((await store.listRetirableGrants(RETIRER, { limit: 10, marker: undefined })).items).toStrictEqual([neighbourGrant]);
        expect(await store.grantsForKey(neighbour)).toStrictEqual([neighbourGrant]);
        // The grants' ids and tokens name nothing any more; a grant on a new key may use them.
        const reused = grant(neighbour, { grantId: doomedGrants[0]!.grantId, grantToken: doomedGrants[0]!.grantToken });
        expect(await store.createGrant(reused, AWS_LIMIT)).toStrictEqual(reused);
      });
    });

    describe('listings', () => {
      it('pages through a key\'s grants in (createdAt, grantId) order without gaps or duplicates', async () => {
        const [keyId, other] = [await newKeyId(), await newKeyId()];
        // Pairs share a creation millisecond, so the order and the marker must use the grant id too.
        const grants = Array.from({ length: 7 }, (_, i) => grant(keyId, { createdAt: at(Math.floor(i / 2)) }));
        for (const each of [...grants].reverse()) await store.createGrant(each, AWS_LIMIT);
        await store.createGrant(grant(other), AWS_LIMIT);
        const expected = [...grants].sort(byPosition);

        const pages = await allPages((page) => store.listGrants(keyId, page), 3);
        expect(pages.map((items) => items.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toStrictEqual(expected);
        expect(await store.grantsForKey(keyId)).toStrictEqual(expected);
        const exact = await allPages((page) => store.listGrants(keyId, page), 7);
        expect(exact.map((items) => items.length)).toEqual([7]);
      });

      it('filters ListGrants by grant id and by grantee, together or alone', async () => {
        const keyId = await newKeyId();
        const other = await newKeyId();
        const mine = [0, 1, 2, 3, 4].map((i) => grant(keyId, { granteePrincipal: i % 2 === 0 ? DEVELOPER : RETIRER, createdAt: at(i) }));
        for (const each of mine) await store.createGrant(each, AWS_LIMIT);
        const elsewhere = grant(other);
        await store.createGrant(elsewhere, AWS_LIMIT);
        const target = mine[3]!;

        const list = (query: { grantId?: string; granteePrincipal?: string }, onKey = keyId) =>
          allPages((page) => store.listGrants(onKey, { ...query, ...page }), 2).then((pages) => pages.flat());
        expect(await list({ grantId: target.grantId })).toStrictEqual([target]);
        expect(await list({ granteePrincipal: DEVELOPER })).toStrictEqual([mine[0], mine[2], mine[4]]);
        expect(await list({ granteePrincipal: RETIRER, grantId: target.grantId })).toStrictEqual([target]);
        expect(await list({ granteePrincipal: DEVELOPER, grantId: target.grantId })).toEqual([]);
        expect(await list({ grantId: elsewhere.grantId })).toEqual([]);
        expect(await list({ granteePrincipal: DEVELOPER.toUpperCase() })).toEqual([]);
        expect(await list({ grantId: elsewhere.grantId }, other)).toStrictEqual([elsewhere]);
      });

      it('lists retirable grants across keys and accounts, for that retiring principal only, in order', async () => {
        const [a, b, c] = [await newKeyId(), await newKeyId(), await newKeyId(OTHER_ACCOUNT)];
        const retirable = [
          grant(a, { retiringPrincipal: RETIRER, createdAt: at(3) }),
          grant(b, { retiringPrincipal: RETIRER, createdAt: at(1) }),
          grant(a, { retiringPrincipal: RETIRER, createdAt: at(1) }),
          grant(c, { account: OTHER_ACCOUNT, retiringPrincipal: RETIRER, createdAt: at(2) }),
          grant(b, { retiringPrincipal: RETIRER, createdAt: at(0) }),
        ];
        const others = [
          grant(a, { createdAt: at(0) }),
          grant(b, { retiringPrincipal: DEVELOPER, createdAt: at(1) }),
          grant(a, { retiringPrincipal: RETIRER.toUpperCase(), createdAt: at(2) }),
          // Being the grantee does not make a principal the retiring principal.
          grant(c, { account: OTHER_ACCOUNT, granteePrincipal: RETIRER, createdAt: at(2) }),
        ];
        for (const each of [...retirable, ...others]) await store.createGrant(each, AWS_LIMIT);

        const pages = await allPages((page) => store.listRetirableGrants(RETIRER, page), 2);
        expect(pages.map((items) => items.length)).toEqual([2, 2, 1]);
        expect(pages.flat()).toStrictEqual([...retirable].sort(byPosition));
        expect((await store.listRetirableGrants(DEVELOPER, { limit: 10, marker: undefined })).items).toStrictEqual([others[1]]);
        expect(await store.listRetirableGrants('arn:aws:iam::999999999999:role/nobody', { limit: 10, marker: undefined })).toEqual({
          items: [],
          nextMarker: undefined,
        });
      });

      it('continues a page from its position even when the grant the marker names is gone', async () => {
        const keyId = await newKeyId();
        const grants = [0, 1, 2, 3].map((i) => grant(keyId, { retiringPrincipal: RETIRER, createdAt: at(i) }));
        for (const each of grants) await store.createGrant(each, AWS_LIMIT);

        const first = await store.listGrants(keyId, { limit: 2, marker: undefined });
        const retirableFirst = await store.listRetirableGrants(RETIRER, { limit: 2, marker: undefined });
        await store.deleteGrant(keyId, grants[1]!.grantId);
        expect((await store.listGrants(keyId, { limit: 5, marker: first.nextMarker })).items).toStrictEqual(grants.slice(2));
        expect((await store.listRetirableGrants(RETIRER, { limit: 5, marker: retirableFirst.nextMarker })).items).toStrictEqual(
          grants.slice(2),
        );
      });

      it('refuses a limit below one and markers no grant listing gave, including a ListKeys marker', async () => {
        const keyId = await newKeyId();
        await newKeyId();
        for (const i of [0, 1]) await store.createGrant(grant(keyId, { retiringPrincipal: RETIRER, createdAt: at(i) }), AWS_LIMIT);
        const { nextMarker } = await store.listGrants(keyId, { limit: 1, marker: undefined });
        const keysMarker = (await store.listKeys({ account: ACCOUNT, limit: 1, marker: undefined })).nextMarker;
        expect(nextMarker).toBeDefined();
        expect(keysMarker).toBeDefined();

        await expectKmsError(store.listGrants(keyId, { limit: 0, marker: undefined }), 'ValidationException');
        await expectKmsError(store.listRetirableGrants(RETIRER, { limit: 0, marker: undefined }), 'ValidationException');
        for (const marker of [...badMarkers(nextMarker ?? ''), keysMarker ?? '']) {
          await expectKmsError(store.listGrants(keyId, { limit: 1, marker }), 'InvalidMarkerException');
          await expectKmsError(store.listRetirableGrants(RETIRER, { limit: 1, marker }), 'InvalidMarkerException');
        }
      });
    });
  });
}
