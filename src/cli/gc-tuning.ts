import { setFlagsFromString } from 'node:v8';

/**
 * The server process's one garbage-collector setting: no scavenge tasks (`--no-minor-gc-task`).
 *
 * By default V8 posts a young-generation collection as a task once the new space is 80% full,
 * and under steady load that task runs at once, so scavenges come ~20% more often than a full new
 * space needs. A scavenge costs what survives it, not what it frees, and a server holding 64
 * requests in flight (each waiting for its token turn and its ledger commit) has ~2 MB surviving
 * every time: Encrypt at 64 in flight scavenged 109 times in `bench:profile`'s window with the
 * task and 86 without. `bench:ab` (9 rounds in turns, twice) put the server's CPU per request at
 * 0.94 and 0.89 of the same build without it; the no-op server, which holds nothing between
 * requests, showed no change (bench/FINDINGS.md). The flag only moves when a scavenge starts: no
 * more memory is used beyond the 20% of the new space the task left unused.
 *
 * V8 reads the flag each time it would schedule the task, so setting it at start-up, before the
 * server takes requests, is as good as `node --no-minor-gc-task`, and holds for every way the
 * server is started (`npm start`, the container, the bench).
 */
export function tuneGarbageCollection(): void {
  setFlagsFromString('--no-minor-gc-task');
}
