import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChainBuilder, chainHash, GENESIS_HASH } from '../../../src/audit/chain.js';
import { canonicalEntry, entryFromEvent } from '../../../src/audit/entry.js';
import { sampleEvent } from '../../support/audit-ledger.js';

describe('hash chain', () => {
  it('starts from the documented genesis value', () => {
    expect(GENESIS_HASH.toString('hex')).toBe('dc5a0d8cf65e7195ced2d7945955f6bf54b1dc0084e8fd6d546057d02e1df3e8');
    expect(GENESIS_HASH.equals(createHash('sha256').update('p11kms-ledger-genesis-v1').digest())).toBe(true);
  });

  it('hashes SHA-256(prevHash ‖ UTF-8 canonical)', () => {
    const canonical = '{"a":"é"}';
    const expected = createHash('sha256')
      .update(Buffer.concat([GENESIS_HASH, Buffer.from(canonical, 'utf8')]))
      .digest();
    expect(chainHash(GENESIS_HASH, canonical).equals(expected)).toBe(true);
    expect(() => chainHash(Buffer.alloc(31), canonical)).toThrow(RangeError);
  });

  it('hashes texts of any length the same way, short ones in one call and long ones streamed', () => {
    const reference = (prev: Buffer, text: string) => createHash('sha256').update(Buffer.concat([prev, Buffer.from(text, 'utf8')])).digest();
    // Around the 16 KiB one-call bound (text length × 3 + 32 bytes), in both one- and three-byte characters,
    // and a short text after a long one: nothing of the earlier text may be hashed with it.
    const texts = ['{}', 'x'.repeat(5450), 'x'.repeat(5451), '€'.repeat(5450), '€'.repeat(5451), 'é ✓ 😀'.repeat(3000), '{"a":1}'];
    let prev = GENESIS_HASH;
    for (const text of texts) {
      const hash = chainHash(prev, text);
      expect(hash.equals(reference(prev, text)), `${text.length} code units`).toBe(true);
      prev = hash;
    }
  });

  it('is deterministic: the same events give the same hashes', () => {
    const heads = [new ChainBuilder(), new ChainBuilder()].map((chain) => {
      for (let seq = 1; seq <= 20; seq++) chain.append(sampleEvent(seq));
      return chain.head;
    });
    expect(heads[0]?.seq).toBe(20);
    expect(heads[0]?.hash.equals(heads[1]?.hash as Buffer)).toBe(true);
  });

  it('links each entry to the one before it', () => {
    const chain = new ChainBuilder();
    const first = chain.append(sampleEvent(1));
    const second = chain.append(sampleEvent(2));
    expect(first.entry.seq).toBe(1);
    expect(first.canonical).toBe(canonicalEntry(first.entry));
    expect(first.hash.equals(chainHash(GENESIS_HASH, first.canonical))).toBe(true);
    expect(second.hash.equals(chainHash(first.hash, second.canonical))).toBe(true);
    expect(chain.head).toEqual({ seq: 2, hash: second.hash });
  });

  it('continues from a stored head exactly as an unbroken chain would', () => {
    const whole = new ChainBuilder();
    for (let seq = 1; seq <= 10; seq++) whole.append(sampleEvent(seq));
    const first = new ChainBuilder();
    for (let seq = 1; seq <= 4; seq++) first.append(sampleEvent(seq));
    const resumed = new ChainBuilder(first.head);
    for (let seq = 5; seq <= 10; seq++) resumed.append(sampleEvent(seq));
    expect(resumed.head.hash.equals(whole.head.hash)).toBe(true);
  });

  it('refuses an entry whose seq is not the next one', () => {
    const chain = new ChainBuilder();
    expect(() => chain.appendEntry(entryFromEvent(sampleEvent(2), 2))).toThrow(/seq 1/);
    chain.appendEntry(entryFromEvent(sampleEvent(1), 1));
    expect(() => chain.appendEntry(entryFromEvent(sampleEvent(1), 1))).toThrow(/seq 2/);
  });
});
