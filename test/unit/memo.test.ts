import { describe, expect, it } from 'vitest';
import { boundedMemo } from '../../src/domain/memo.js';

describe('boundedMemo', () => {
  it('computes each input once, undefined results included, and forgets everything at the bound', () => {
    const computed: string[] = [];
    const memo = boundedMemo((input) => {
      computed.push(input);
      return input === 'none' ? undefined : input.length;
    }, 3);
    expect([memo('a'), memo('bb'), memo('a'), memo('none'), memo('none')]).toEqual([1, 2, 1, undefined, undefined]);
    expect(computed).toEqual(['a', 'bb', 'none']);
    expect(memo('cccc')).toBe(4); // the fourth distinct input empties the memory first
    expect(memo('a')).toBe(1);
    expect(computed).toEqual(['a', 'bb', 'none', 'cccc', 'a']);
  });
});
