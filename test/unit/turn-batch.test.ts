import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../../src/adapters/pkcs11/turn-batch.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnBatch', () => {
  it('runs the calls queued in one turn together, in order, after that turn', async () => {
    const batch = new TurnBatch();
    const ran: string[] = [];
    const results = [batch.run(() => (ran.push('a'), 1)), batch.run(() => (ran.push('b'), 2)), batch.run(() => (ran.push('c'), 3))];
    await Promise.resolve();
    expect(ran).toEqual([]); // nothing runs in the turn that queued it
    await expect(Promise.all(results)).resolves.toEqual([1, 2, 3]);
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('rejects only the call that threw; the calls around it still run and resolve', async () => {
    const batch = new TurnBatch();
    const ran: string[] = [];
    const before = batch.run(() => (ran.push('before'), 'ok'));
    const failing = batch.run(() => {
      ran.push('failing');
      throw new Error('CKR_KEY_HANDLE_INVALID');
    });
    const after = batch.run(() => (ran.push('after'), 'ok too'));
    await expect(failing).rejects.toThrow('CKR_KEY_HANDLE_INVALID');
    await expect(before).resolves.toBe('ok');
    await expect(after).resolves.toBe('ok too');
    expect(ran).toEqual(['before', 'failing', 'after']);
  });

  it('puts a call queued while a batch runs into the next batch, not the current one', async () => {
    const batch = new TurnBatch();
    const turns: string[] = [];
    let inner: Promise<string> | undefined;
    await batch.run(() => {
      turns.push('first batch');
      inner = batch.run(() => (turns.push('second batch'), 'later'));
      return undefined;
    });
    expect(turns).toEqual(['first batch']);
    await expect(inner).resolves.toBe('later');
    expect(turns).toEqual(['first batch', 'second batch']);
  });

  it('settled() waits for the calls queued so far, and is at once settled when none are', async () => {
    const batch = new TurnBatch();
    await expect(batch.settled()).resolves.toBeUndefined();
    let ran = 0;
    void batch.run(() => ran++);
    void batch.run(() => ran++);
    const settled = batch.settled();
    expect(ran).toBe(0);
    await settled;
    expect(ran).toBe(2);
    await nextTurn();
    expect(ran).toBe(2);
  });
});
