import { describe, expect, it } from 'vitest';
import { ChainBuilder } from '../../src/audit/chain.js';
import { entryRow, indexRowsOf } from '../../src/adapters/sql/ledger-rows.js';
import { sampleEvent } from '../support/audit-ledger.js';

const KEY_A = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_B = 'aaaabbbb-12ab-34cd-56ef-1234567890ab';

describe('entryRow (the rows a ledger entry is stored and found by)', () => {
  it('lists each key once and each reader account once: the caller first, then the keys in order', () => {
    const event = {
      ...sampleEvent(1),
      principalAccount: '111122223333',
      keyArns: [
        `arn:aws:kms:us-east-1:444455556666:key/${KEY_B}`,
        `arn:aws:kms:us-east-1:111122223333:key/${KEY_A}`,
        // The same key under a second ARN of another partition: still one key, one account.
        `arn:aws-cn:kms:cn-north-1:444455556666:key/${KEY_B}`,
      ],
    };
    const row = entryRow(new ChainBuilder().append(event));
    expect(row.keyIds).toEqual([KEY_B, KEY_A]);
    expect(row.accounts).toEqual(['111122223333', '444455556666']);
  });

  it('has no reader account for an unauthenticated caller naming no key', () => {
    const row = entryRow(new ChainBuilder().append({ ...sampleEvent(1), principalAccount: undefined, keyArns: [] }));
    expect(row.keyIds).toEqual([]);
    expect(row.accounts).toEqual([]);
  });

  it('answers the same frozen rows for every entry naming one key of its caller\'s account', () => {
    const arn = `arn:aws:kms:us-east-1:111122223333:key/${KEY_A}`;
    const first = indexRowsOf({ keyArns: [arn], principalAccount: '111122223333' });
    const again = indexRowsOf({ keyArns: [arn], principalAccount: '111122223333' });
    expect(first).toEqual({ keyIds: [KEY_A], accounts: ['111122223333'] });
    expect(again).toBe(first);
    expect(Object.isFrozen(first.keyIds) && Object.isFrozen(first.accounts)).toBe(true);
    // Shared rows cannot be changed by a caller that forgets they are shared.
    expect(() => (first.accounts as string[]).push('444455556666')).toThrow(TypeError);
    // A caller from another account reads it too: its account comes first.
    expect(indexRowsOf({ keyArns: [arn], principalAccount: '444455556666' })).toEqual({
      keyIds: [KEY_A],
      accounts: ['444455556666', '111122223333'],
    });
    // An unauthenticated caller: the key's account alone.
    expect(indexRowsOf({ keyArns: [arn], principalAccount: null })).toEqual({ keyIds: [KEY_A], accounts: ['111122223333'] });
  });

  it('gives the same rows as the general rule for every shape of entry', () => {
    const arns = [
      `arn:aws:kms:us-east-1:111122223333:key/${KEY_A}`,
      `arn:aws:kms:us-east-1:444455556666:key/${KEY_B}`,
      `arn:aws-cn:kms:cn-north-1:444455556666:key/${KEY_B}`,
      KEY_A, // not an ARN: the id as it is, no account
    ];
    const general = (keyArns: readonly string[], principalAccount: string | null) => {
      const keyIds: string[] = [];
      const accounts: string[] = principalAccount === null ? [] : [principalAccount];
      for (const arn of keyArns) {
        const [, , , , account = '', resource = ''] = arn.split(':');
        const keyId = resource.startsWith('key/') ? resource.slice(4) : arn;
        if (keyIds.includes(keyId)) continue;
        keyIds.push(keyId);
        if (account !== '' && !accounts.includes(account)) accounts.push(account);
      }
      return { keyIds, accounts };
    };
    const choices: string[][] = [[], ...arns.map((arn) => [arn]), ...arns.flatMap((a) => arns.map((b) => [a, b]))];
    for (const keyArns of choices) {
      for (const principalAccount of [null, '111122223333', '444455556666']) {
        expect(indexRowsOf({ keyArns, principalAccount }), `${keyArns.join(' ')} by ${principalAccount}`).toEqual(
          general(keyArns, principalAccount),
        );
      }
    }
  });
});
