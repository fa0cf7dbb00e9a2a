import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireBuild } from '../support/server-process.js';

const TUNING = pathToFileURL(resolve('dist/src/cli/gc-tuning.js')).href;

/**
 * A process that allocates from the event loop, as a server does, keeping the last 20,000 of its
 * objects alive, until it has made 4,000,000 (a second or two); `--trace-gc` prints one line per
 * collection, and a scavenge started by V8's task says "task".
 */
function scavenges(tuned: boolean): { all: number; byTask: number } {
  const script = `
    ${tuned ? `(await import(${JSON.stringify(TUNING)})).tuneGarbageCollection();` : ''}
    const live = new Array(20000);
    let made = 0;
    await new Promise((done) => {
      const turn = () => {
        for (let i = 0; i < 2000; i++, made++) live[made % live.length] = { id: made, text: 'x'.repeat(16) + made, parts: [made] };
        if (made < 4_000_000) setImmediate(turn); else done();
      };
      turn();
    });
  `;
  const run = spawnSync(process.execPath, ['--trace-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const lines = run.stdout.split('\n').filter((line) => line.includes('Scavenge'));
  return { all: lines.length, byTask: lines.filter((line) => line.includes('task')).length };
}

describe('tuneGarbageCollection (the serve command calls it at start-up)', () => {
  requireBuild();

  it('leaves scavenges to a full new space: V8 starts none of them as a task', () => {
    const tuned = scavenges(true);
    expect(tuned.all).toBeGreaterThan(10);
    expect(tuned.byTask).toBe(0);
  });

  it('changes what V8 does by default, where event-loop allocation starts scavenges as tasks', () => {
    const untuned = scavenges(false);
    expect(untuned.all).toBeGreaterThan(10);
    expect(untuned.byTask).toBeGreaterThan(0);
  });
});
