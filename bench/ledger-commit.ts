/**
 * `npm run bench:commit [-- --sizes 1,3,20,64 --commits 1500]`: what one ledger commit costs the
 * writer thread, by the number of entries in it. Group commit makes a batch of whatever finished
 * while the batch before was being written (src/audit/ledger.ts), so its size follows the load:
 * ~20 entries under the bench's Encrypt at 64 in flight, two or three under RSA Sign at 16, one at
 * a time for a lone caller. What a commit costs whatever it holds (the transaction, the pages it
 * touches once per B-tree, the fsync, the hand-off between threads) is paid per batch; the rest
 * per entry.
 *
 * For each size: a fresh SQLite ledger (SqliteLedgerStore: the schema, WAL, synchronous=FULL,
 * the writer thread), entries made by ChainBuilder from the same events as `bench:ledger`, first
 * 6,000 entries unmeasured (past the key rows' lag, so that rows are moved into the key index as
 * in steady use), then `--commits` batches one after another, each awaited. The writer thread's
 * user and system CPU come from /proc (the thread the store started); the event loop's is printed
 * beside it. No baseline: this prices the parts of the ledger's cost, it is not a target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteLedgerStore } from '../src/adapters/sql/sqlite-ledger.js';
import { ChainBuilder, type ChainHead } from '../src/audit/chain.js';
import { threadTimes, ticksToMicroseconds } from './harness.js';
import { benchEvent } from './ledger-events.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,3,20,64' },
    commits: { type: 'string', default: '1500' },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const commits = Number(values.commits);
if (sizes.some((size) => !Number.isSafeInteger(size) || size < 1)) throw new Error('--sizes lists whole numbers ≥ 1');
if (!Number.isSafeInteger(commits) || commits < 1) throw new Error('--commits is a whole number ≥ 1');
const WARM_ENTRIES = 6000;

type Times = ReturnType<typeof threadTimes>;

/** The CPU one thread spent between two readings, in µs. */
function spent(before: Times, after: Times, thread: string): { user: number; system: number } {
  const [a, b] = [before.get(thread), after.get(thread)];
  if (!a || !b) throw new Error(`thread ${thread} is gone`);
  return { user: ticksToMicroseconds(b.user - a.user), system: ticksToMicroseconds(b.system - a.system) };
}

console.log('| entries per commit | writer µs per commit (user + system) | writer µs per entry | event loop µs per commit | wall µs per commit |');
console.log('|---|---|---|---|---|');
for (const size of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'p11kms-bench-commit-'));
  const before = new Set(threadTimes(process.pid).keys());
  const store = await SqliteLedgerStore.open(join(dir, 'ledger.db'));
  try {
    const started = [...threadTimes(process.pid).keys()].filter((thread) => !before.has(thread));
    if (started.length !== 1) throw new Error(`expected the store to start one thread, found ${started.length}`);
    const writer = started[0]!;
    const eventLoop = [...before].find((thread) => thread.startsWith(`${process.pid} `))!;
    let head: ChainHead = await store.readHead();
    const append = async (batches: number) => {
      for (let b = 0; b < batches; b++) {
        const chain = new ChainBuilder(head);
        const entries = Array.from({ length: size }, () => chain.append(benchEvent(chain.head.seq + 1)));
        await store.appendEntries(head, entries);
        head = chain.head;
      }
    };
    await append(Math.ceil(WARM_ENTRIES / size));
    const start = threadTimes(process.pid);
    const startedAt = performance.now();
    await append(commits);
    const wall = ((performance.now() - startedAt) * 1000) / commits;
    const end = threadTimes(process.pid);
    const ofWriter = spent(start, end, writer);
    const ofLoop = spent(start, end, eventLoop);
    const perCommit = (ofWriter.user + ofWriter.system) / commits;
    console.log(
      `| ${size} | ${perCommit.toFixed(0)} (${(ofWriter.user / commits).toFixed(0)} + ${(ofWriter.system / commits).toFixed(0)}) | ` +
        `${(perCommit / size).toFixed(1)} | ${((ofLoop.user + ofLoop.system) / commits).toFixed(0)} | ${wall.toFixed(0)} |`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
