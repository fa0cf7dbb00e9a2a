import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkingCopies, type WorkingKey } from '../../src/adapters/pkcs11/working-copies.js';
import { HsmKeyNotFoundError } from '../../src/ports/hsm.js';

const SETTINGS = { maxAgeMs: 1_000, retiredCopyGraceMs: 200 };

/** Copies as numbered handles, with the ones destroyed so far. */
function fakeToken() {
  let next = 1;
  const destroyed: number[] = [];
  return {
    destroyed,
    copy: (): WorkingKey => ({ handle: Buffer.from([next++]), copy: true }),
    destroy: async (handle: Buffer) => {
      destroyed.push(handle[0]!);
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('WorkingCopies', () => {
  it('makes one copy for every operation that missed at the same time, then answers from the map', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    const make = vi.fn(async () => token.copy());
    const handles = await Promise.all(Array.from({ length: 10 }, () => copies.resolve('k', make)));
    expect(make).toHaveBeenCalledTimes(1);
    expect(new Set(handles.map((handle) => handle[0])).size).toBe(1);
    expect(copies.get('k')).toBe(handles[0]);
  });

  it('makes a copy again within maxAgeMs, spreading ages over its last quarter', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    vi.spyOn(Math, 'random').mockReturnValueOnce(0).mockReturnValueOnce(0.999_999);
    const early = await copies.resolve('early', async () => token.copy()); // 1
    const late = await copies.resolve('late', async () => token.copy()); // 2
    await vi.advanceTimersByTimeAsync(0.75 * SETTINGS.maxAgeMs - 1);
    expect(copies.get('early')).toBe(early);
    expect(copies.get('late')).toBe(late);
    await vi.advanceTimersByTimeAsync(1);
    expect(copies.get('early')![0]).toBe(3);
    expect(copies.get('late')).toBe(late);
    await vi.advanceTimersByTimeAsync(0.25 * SETTINGS.maxAgeMs);
    expect(copies.get('late')![0]).toBe(4);
  });

  it('drops a copy that no operation used during its age', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    const make = vi.fn(async () => token.copy());
    await copies.resolve('k', make);
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs);
    expect(copies.get('k')).toBeUndefined();
    expect(make).toHaveBeenCalledTimes(1);
  });

  it('destroys a retired copy once the grace has passed, not before', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    vi.spyOn(Math, 'random').mockReturnValueOnce(0.999_999); // retires at maxAgeMs
    await copies.resolve('k', async () => token.copy());
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs);
    expect(copies.get('k')).toBeUndefined();
    expect(token.destroyed).toEqual([]);
    await vi.advanceTimersByTimeAsync(SETTINGS.retiredCopyGraceMs);
    expect(token.destroyed).toEqual([1]);
    // The next operation makes a new copy.
    expect((await copies.resolve('k', async () => token.copy()))[0]).toBe(2);
  });

  it('retires a token handle used in place of a copy without destroying it', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    await copies.resolve('k', async () => ({ handle: Buffer.from([9]), copy: false }));
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs + SETTINGS.retiredCopyGraceMs);
    expect(copies.get('k')).toBeUndefined();
    expect(token.destroyed).toEqual([]);
  });

  it('keeps token handles for the life of the adapter when copies are off', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(false, token.destroy);
    const handle = await copies.resolve('k', async () => ({ handle: Buffer.from([9]), copy: false }));
    await vi.advanceTimersByTimeAsync(10 * SETTINGS.maxAgeMs);
    expect(copies.get('k')).toBe(handle);
    await copies.close();
    expect(token.destroyed).toEqual([]);
  });

  it('forget destroys the current and the retired copies of a key at once, and no other', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999); // ages of maxAgeMs
    await copies.resolve('k', async () => token.copy()); // 1
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs); // 1 retired, in its grace
    await copies.resolve('k', async () => token.copy()); // 2
    await copies.resolve('other', async () => token.copy()); // 3
    await copies.forget(['k']);
    expect(token.destroyed.sort()).toEqual([1, 2]);
    expect(copies.get('k')).toBeUndefined();
    expect(copies.get('other')).toBeDefined();
    await vi.advanceTimersByTimeAsync(SETTINGS.retiredCopyGraceMs);
    expect(token.destroyed.sort()).toEqual([1, 2]); // no second destroy of copy 1
  });

  it('a copy still being made when its key is forgotten is destroyed, and its operations fail as for a missing key', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    let finish!: (key: WorkingKey) => void;
    const resolving = copies.resolve('k', () => new Promise<WorkingKey>((resolve) => (finish = resolve)));
    const outcome = expect(resolving).rejects.toBeInstanceOf(HsmKeyNotFoundError);
    const forgetting = copies.forget(['k']);
    finish(token.copy());
    await forgetting;
    await outcome;
    expect(token.destroyed).toEqual([1]);
    expect(copies.get('k')).toBeUndefined();
  });

  it('close destroys every copy, current, retired and being made', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999); // ages of maxAgeMs
    await copies.resolve('a', async () => token.copy()); // 1
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs); // 1 retired, in its grace
    await copies.resolve('b', async () => token.copy()); // 2
    let finish!: (key: WorkingKey) => void;
    const resolving = copies.resolve('c', () => new Promise<WorkingKey>((resolve) => (finish = resolve)));
    resolving.catch(() => undefined);
    const closing = copies.close();
    finish(token.copy()); // 3
    await closing;
    expect(token.destroyed.sort()).toEqual([1, 2, 3]);
    expect(copies.get('b')).toBeUndefined();
  });

  it('a failed copy attempt is not remembered: the next miss tries again', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    await expect(copies.resolve('k', async () => Promise.reject(new HsmKeyNotFoundError('gone')))).rejects.toBeInstanceOf(
      HsmKeyNotFoundError,
    );
    expect((await copies.resolve('k', async () => token.copy()))[0]).toBe(1);
  });

  it('makes a used copy again while it keeps serving, then destroys the old one after the grace', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999); // ages of maxAgeMs
    let finish!: (key: WorkingKey) => void;
    const make = vi.fn(() => (make.mock.calls.length === 1 ? Promise.resolve(token.copy()) : new Promise<WorkingKey>((resolve) => (finish = resolve))));
    await copies.resolve('k', make); // 1
    expect(copies.get('k')![0]).toBe(1); // an operation used it
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs);
    expect(make).toHaveBeenCalledTimes(2); // being made again …
    expect(copies.get('k')![0]).toBe(1); // … while the old copy serves
    finish(token.copy()); // 2
    await vi.advanceTimersByTimeAsync(0);
    expect(copies.get('k')![0]).toBe(2);
    expect(token.destroyed).toEqual([]);
    await vi.advanceTimersByTimeAsync(SETTINGS.retiredCopyGraceMs);
    expect(token.destroyed).toEqual([1]);
  });

  it('drops a used copy whose key is gone when it is made again: the next operation finds out', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    let gone = false;
    const make = async () => (gone ? Promise.reject(new HsmKeyNotFoundError('gone')) : token.copy());
    await copies.resolve('k', make); // 1
    copies.get('k');
    gone = true; // another replica destroyed the key version
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs);
    expect(copies.get('k')).toBeUndefined();
    await expect(copies.resolve('k', make)).rejects.toBeInstanceOf(HsmKeyNotFoundError);
    await vi.advanceTimersByTimeAsync(SETTINGS.retiredCopyGraceMs);
    expect(token.destroyed).toEqual([1]);
  });

  it('forget while a used copy is being made again destroys the old and the new copy, once each', async () => {
    const token = fakeToken();
    const copies = new WorkingCopies(SETTINGS, token.destroy);
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    let finish!: (key: WorkingKey) => void;
    let calls = 0;
    const make = () => (++calls === 1 ? Promise.resolve(token.copy()) : new Promise<WorkingKey>((resolve) => (finish = resolve)));
    await copies.resolve('k', make); // 1
    copies.get('k');
    await vi.advanceTimersByTimeAsync(SETTINGS.maxAgeMs);
    const forgetting = copies.forget(['k']);
    finish(token.copy()); // 2
    await forgetting;
    await vi.advanceTimersByTimeAsync(SETTINGS.retiredCopyGraceMs);
    expect(token.destroyed.sort()).toEqual([1, 2]);
    expect(copies.get('k')).toBeUndefined();
  });
});
