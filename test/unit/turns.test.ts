import { describe, expect, it } from 'vitest';
import { Turns } from '../../src/transport/grpc/turns.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('Turns', () => {
  it('starts nothing synchronously; short jobs then run in one turn, in order', async () => {
    const turns = new Turns(5);
    const log: string[] = [];
    for (const name of ['a', 'b', 'c']) turns.run(() => log.push(name));
    expect(log).toEqual([]);
    expect(turns.waiting).toBe(3);
    await nextTurn();
    expect(log).toEqual(['a', 'b', 'c']);
    expect(turns.waiting).toBe(0);
  });

  it('starts the next job as a microtask after the one before, so both finish in the same turn', async () => {
    const turns = new Turns(5);
    const log: string[] = [];
    for (const name of ['a', 'b']) {
      turns.run(() => {
        void (async () => {
          log.push(`${name} start`);
          await Promise.resolve();
          log.push(`${name} after await`);
        })();
      });
    }
    await nextTurn();
    expect(log).toEqual(['a start', 'a after await', 'b start', 'b after await']);
  });

  it('leaves the rest of the queue to the next turn once a turn has used its budget, so timers run between', async () => {
    const turns = new Turns(1);
    const log: string[] = [];
    turns.run(() => {
      log.push('job 1');
      setTimeout(() => log.push('timer'), 0);
      busy(3); // over the 1 ms budget, and the timer is due when this job ends
    });
    turns.run(() => log.push('job 2'));
    turns.run(() => log.push('job 3'));
    await nextTurn();
    expect(log).toEqual(['job 1']);
    expect(turns.waiting).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log).toEqual(['job 1', 'timer', 'job 2', 'job 3']);
  });

  it('keeps the order of thousands of jobs queued while it runs, across many turns, and empties its queue', async () => {
    const turns = new Turns(0.2);
    const seen: number[] = [];
    let queued = 0;
    let turnsTaken = 0;
    const add = () => {
      const n = queued++;
      turns.run(() => {
        seen.push(n);
        busy(0.02);
        if (queued < 3000) add(); // a steady stream: the queue never runs dry until the end
      });
    };
    for (let i = 0; i < 50; i++) add();
    while (turns.waiting > 0) {
      await nextTurn();
      turnsTaken++;
    }
    expect(seen).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(turnsTaken).toBeGreaterThan(10);
  });
});
