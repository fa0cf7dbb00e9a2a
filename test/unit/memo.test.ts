import { describe, expect, it } from 'vitest';
import { boundedMemo } from '../../src/domain/memo.js';

describe('boundedMemo', () => {
  it('computes each input once, undefined results included, and forgets the oldest input at the bound', () => {
    const computed: string[] = [];
    const memo = boundedMemo((input) => {
      computed.push(input);
      return input === 'none' ? undefined : input.length;
    }, 3);
    expect([memo('a'), memo('bb'), memo('a'), memo('none'), memo('none')]).toEqual([1, 2, 1, undefined, undefined]);
    expect(computed).toEqual(['a', 'bb', 'none']);
    expect(memo('cccc')).toBe(4); // the fourth distinct input makes room by forgetting 'a', the oldest
    expect([memo('bb'), memo('none'), memo('cccc')]).toEqual([2, undefined, 4]); // still remembered
    expect(memo('a')).toBe(1); // computed again, and now 'bb' is the one forgotten
    expect(computed).toEqual(['a', 'bb', 'none', 'cccc', 'a']);
    expect(memo('bb')).toBe(2);
    expect(computed).toEqual(['a', 'bb', 'none', 'cccc', 'a', 'bb']);
  });

  it('keeps a working set larger than its bound found about max/size of the time, not less', () => {
    // 200 inputs in random order through a memory of 100: the oldest-first memory finds
    // about half; the one that emptied itself at the bound found about a quarter.
    let computations = 0;
    const memo = boundedMemo(() => ++computations, 100);
    let state = 12345; // xorshift32: a fixed, evenly spread sequence
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % 200;
    };
    for (let i = 0; i < 20_000; i++) memo(`input-${next()}`);
    const hitRate = 1 - computations / 20_000;
    expect(hitRate).toBeGreaterThan(0.45);
    expect(hitRate).toBeLessThan(0.55);
  });
});
