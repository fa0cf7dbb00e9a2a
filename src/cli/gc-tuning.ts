import { setFlagsFromString } from 'node:v8';

/**
 * The server process's one garbage-collector setting: no scavenge tasks (`--no-minor-gc-task`).
 *
 * By default V8 posts a young-generation collection as a task once the new space is 80% full.
 * Under load nearly every scavenge starts from that task (103 of 109 in one `bench:profile`
 * window of Encrypt at 64 in flight; 86 scavenges in the same window without it), so scavenges
 * come ~20% more often than a full new space needs. A scavenge costs what survives it, not what
 * it frees, and under that load each one keeps 2–2.6 MB. `bench:ab` (9 rounds in turns, twice)
 * put the server's CPU per request at 0.94 and 0.89 of the same build without it
 * (bench/FINDINGS.md). The flag only moves when a scavenge starts; the one memory cost is the
 * last 20% of the new space, which the task left unused.
 *
 * Set at start-up, before the server takes requests, it works as `node --no-minor-gc-task` does
 * (test/integration/gc-tuning.test.ts), for every way the server is started (`npm start`, the
 * container, the bench).
 */
export function tuneGarbageCollection(): void {
  setFlagsFromString('--no-minor-gc-task');
}
