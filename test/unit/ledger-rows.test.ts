import { describe, expect, it } from 'vitest';
import { ChainBuilder } from '../../src/audit/chain.js';
import { entryRow } from '../../src/adapters/sql/ledger-rows.js';
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
});
