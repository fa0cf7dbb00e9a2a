import { describe, expect, it } from 'vitest';
import { leastBusy } from '../../src/adapters/pkcs11/operation-workers.js';

const EXITED = Number.POSITIVE_INFINITY;

describe('leastBusy: which operation worker takes the next call', () => {
  it('is the worker with the fewest calls not yet answered', () => {
    expect(leastBusy([3, 1, 2, 4])).toBe(1);
    expect(leastBusy([0, 5, 5, 5])).toBe(0);
    expect(leastBusy([5, 5, 5, 0])).toBe(3);
  });

  it('is the first of equally busy workers, so idle workers are taken in order', () => {
    expect(leastBusy([0, 0, 0, 0])).toBe(0);
    expect(leastBusy([2, 1, 1, 1])).toBe(1);
  });

  it('spreads calls made back to back over every worker before any gets a second', () => {
    const loads = [0, 0, 0, 0];
    const chosen = Array.from({ length: 8 }, () => {
      const index = leastBusy(loads);
      loads[index]! += 1;
      return index;
    });
    expect(chosen).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it('never picks a worker that has exited, however idle it looks', () => {
    expect(leastBusy([EXITED, 7, EXITED])).toBe(1);
  });

  it('is −1 when every worker has exited, or there is none', () => {
    expect(leastBusy([EXITED, EXITED])).toBe(-1);
    expect(leastBusy([])).toBe(-1);
  });
});
