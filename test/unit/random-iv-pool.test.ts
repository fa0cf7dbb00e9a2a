import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GCM_IV_BYTES } from '../../src/domain/ciphertext.js';
import { RandomIvPool } from '../../src/adapters/pkcs11/random-iv-pool.js';

/** A pool of `ivsPerFill` IVs whose fills are counted and whose block the test can see. */
function countingPool(ivsPerFill: number) {
  const fills: Buffer[] = [];
  const pool = new RandomIvPool(ivsPerFill, (block) => {
    fills.push(block);
    return randomFillSync(block);
  });
  return { pool, fills };
}

describe('RandomIvPool', () => {
  it('hands out 12-byte IVs, each distinct, across several refills of the pool', () => {
    const { pool, fills } = countingPool(16);
    const ivs = new Set<string>();
    for (let i = 0; i < 16 * 5 + 3; i++) {
      const iv = pool.next();
      expect(iv).toHaveLength(GCM_IV_BYTES);
      ivs.add(iv.toString('hex'));
    }
    expect(ivs.size).toBe(16 * 5 + 3);
    expect(fills).toHaveLength(6);
  });

  it('fills the pool once per ivsPerFill IVs, and only when it is used up', () => {
    const { pool, fills } = countingPool(4);
    expect(fills).toHaveLength(0);
    pool.next();
    expect(fills).toHaveLength(1);
    for (let i = 0; i < 3; i++) pool.next();
    expect(fills).toHaveLength(1);
    pool.next();
    expect(fills).toHaveLength(2);
  });

  it('hands out consecutive slices of the CSPRNG block, never the same bytes twice', () => {
    const { pool, fills } = countingPool(3);
    const ivs = [pool.next(), pool.next(), pool.next()];
    const block = Buffer.from(fills[0]!);
    expect(Buffer.concat(ivs).equals(block)).toBe(true);
  });

  it('returns copies, not views of the pool: a refill or a change to one IV leaves the others as they were', () => {
    const { pool, fills } = countingPool(2);
    const first = pool.next();
    const kept = Buffer.from(first);
    expect(first.buffer).not.toBe(fills[0]!.buffer);
    pool.next();
    pool.next(); // refills the block the first IV came from
    expect(fills).toHaveLength(2);
    expect(first.equals(kept)).toBe(true);
    const second = pool.next();
    second.fill(0);
    expect(first.equals(kept)).toBe(true);
    fills[0]!.fill(0xff);
    expect(first.equals(kept)).toBe(true);
  });

  it('refuses a pool that holds no IV', () => {
    expect(() => new RandomIvPool(0)).toThrow(RangeError);
  });
});
