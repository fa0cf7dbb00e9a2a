import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KeyState } from '../../src/domain/key.js';
import type { MetadataStore, NewKey } from '../../src/ports/metadata-store.js';
import {
  ACCOUNT,
  OTHER_ACCOUNT,
  expectKmsError,
  freshStoreEachTest,
  sampleKey,
  samplePolicy,
  type StoreFactory,
} from './metadata-store.fixtures.js';

/** Every character AWS KMS allows in a policy document: tab, LF, CR and U+0020–U+00FF. */
const AWS_POLICY_CHARACTERS = String.fromCharCode(0x09, 0x0a, 0x0d, ...Array.from({ length: 0xe0 }, (_, i) => 0x20 + i));

/** A document of exactly `bytes` UTF-8 bytes (AWS KMS's limit is 32 KiB), many statements long. */
function largePolicy(bytes: number): string {
  const statement = (i: number) =>
    `{"Sid":"s${i}","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${ACCOUNT}:role/r${i}"},"Action":"kms:Decrypt","Resource":"*"}`;
  const statements: string[] = [];
  let text = '';
  for (let i = 0; ; i++) {
    const next = `{"Version":"2012-10-17","Statement":[${[...statements, statement(i)].join(',')}]}`;
    if (Buffer.byteLength(next, 'utf8') > bytes) break;
    statements.push(statement(i));
    text = next;
  }
  const padded = text.replace('{', `{${' '.repeat(bytes - Buffer.byteLength(text, 'utf8'))}`);
  expect(Buffer.byteLength(padded, 'utf8')).toBe(bytes);
  return padded;
}

/** Key policies (AWS KMS CreateKey's Policy, GetKeyPolicy, PutKeyPolicy) every MetadataStore must keep. */
export function policyContract(name: string, factory: StoreFactory): void {
  describe(`MetadataStore contract, key policies: ${name}`, () => {
    const current = freshStoreEachTest(factory);
    let store: MetadataStore;

    beforeEach(() => {
      store = current();
    });

    async function newKey(policy?: string, state: KeyState = 'Enabled'): Promise<NewKey> {
      const created = sampleKey({ state }, [], policy);
      await store.createKey(created);
      return created;
    }

    it('stores the policy given to createKey and returns it byte for byte', async () => {
      const created = await newKey();

      const read = await store.getKeyPolicy(created.key.id);
      expect(read).toBe(created.policy);
      expect(Buffer.from(read ?? '', 'utf8').equals(Buffer.from(created.policy, 'utf8'))).toBe(true);
      expect(created.policy).toContain('\r\n\t');
      expect(created.policy.endsWith('}  ')).toBe(true);
    });

    it('round-trips every character AWS allows, a 32 KiB document and text beyond Latin-1 unchanged', async () => {
      const documents = [
        `{"Sid":"${AWS_POLICY_CHARACTERS.replace(/["\\]/g, '')}"}`,
        largePolicy(32 * 1024),
        ' {"Statement":[]} \n\n',
        '{"Sid": "ünïcødé ✓ 𝄞 日本"}',
        'not JSON at all: the store does not parse',
      ];
      const keys: NewKey[] = [];
      for (const document of documents) keys.push(await newKey(document));

      for (const [i, created] of keys.entries()) expect(await store.getKeyPolicy(created.key.id)).toBe(documents[i]);
    });

    it('replaces the policy of one key only, exactly as put, and nothing else about the key', async () => {
      const created = await newKey();
      const neighbour = await newKey();
      const replacement = samplePolicy(OTHER_ACCOUNT, 'Replaced\u00a0policy');

      await store.putKeyPolicy(created.key.id, replacement);
      expect(await store.getKeyPolicy(created.key.id)).toBe(replacement);
      expect(await store.getKey(created.key.id)).toEqual(created.key);
      expect(await store.getKeyPolicy(neighbour.key.id)).toBe(neighbour.policy);

      // Putting the same text again, and then the first text back, are both plain replacements.
      await store.putKeyPolicy(created.key.id, replacement);
      await store.putKeyPolicy(created.key.id, created.policy);
      expect(await store.getKeyPolicy(created.key.id)).toBe(created.policy);
    });

    it('leaves key state to the pipeline: a Disabled or PendingDeletion key\'s policy can be replaced', async () => {
      const disabled = await newKey(undefined, 'Disabled');
      const pending = await newKey();
      await store.scheduleKeyDeletion(pending.key.id, new Date(1_800_000_000_000));

      await store.putKeyPolicy(disabled.key.id, '{"d":1}');
      await store.putKeyPolicy(pending.key.id, '{"p":1}');
      expect(await store.getKeyPolicy(disabled.key.id)).toBe('{"d":1}');
      expect(await store.getKeyPolicy(pending.key.id)).toBe('{"p":1}');
    });

    it('answers undefined for an unknown key and refuses to put its policy, storing nothing', async () => {
      const unknownId = randomUUID();

      expect(await store.getKeyPolicy(unknownId)).toBeUndefined();
      await expectKmsError(store.putKeyPolicy(unknownId, '{"orphan":true}'), 'NotFoundException');
      expect(await store.getKeyPolicy(unknownId)).toBeUndefined();
      // A key created later with that id has only its own policy.
      const later = sampleKey({ id: unknownId });
      await store.createKey(later);
      expect(await store.getKeyPolicy(unknownId)).toBe(later.policy);
    });

    it('writes no policy when createKey fails, and keeps the first key\'s policy on a duplicate id', async () => {
      const first = await newKey();
      const impostor = sampleKey({ id: first.key.id }, [], '{"impostor":true}');
      const broken = sampleKey({}, [{ tagKey: 'same', tagValue: '1' }, { tagKey: 'same', tagValue: '2' }], '{"broken":1}');

      await expectKmsError(store.createKey(impostor), 'AlreadyExistsException');
      await expect(store.createKey(broken)).rejects.toThrow();
      expect(await store.getKeyPolicy(first.key.id)).toBe(first.policy);
      expect(await store.getKeyPolicy(broken.key.id)).toBeUndefined();
      await expectKmsError(store.putKeyPolicy(broken.key.id, '{}'), 'NotFoundException');
    });

    it('ends with one of the documents, whole, when puts race', async () => {
      const created = await newKey();
      const documents = Array.from({ length: 8 }, (_, i) => samplePolicy(ACCOUNT, `writer ${i} ${'x'.repeat(i * 500)}`));

      await Promise.all(documents.map((document) => store.putKeyPolicy(created.key.id, document)));
      expect(documents).toContain(await store.getKeyPolicy(created.key.id));
    });

    it('removes the policy with deleteKeyMetadata, and only then', async () => {
      const doomed = await newKey();
      const neighbour = await newKey();

      await expectKmsError(store.deleteKeyMetadata(doomed.key.id), 'KMSInvalidStateException');
      expect(await store.getKeyPolicy(doomed.key.id)).toBe(doomed.policy);
      await store.scheduleKeyDeletion(doomed.key.id, new Date(1_800_000_000_000));
      expect(await store.deleteKeyMetadata(doomed.key.id)).toBe(true);

      expect(await store.getKeyPolicy(doomed.key.id)).toBeUndefined();
      await expectKmsError(store.putKeyPolicy(doomed.key.id, '{}'), 'NotFoundException');
      expect(await store.getKeyPolicy(neighbour.key.id)).toBe(neighbour.policy);
      // The id can hold a new key, with the new key's policy and nothing left of the old one.
      const reborn = sampleKey({ id: doomed.key.id }, [], '{"reborn":true}');
      await store.createKey(reborn);
      expect(await store.getKeyPolicy(doomed.key.id)).toBe('{"reborn":true}');
    });
  });
}
