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
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteLedgerStore } from '../src/adapters/sql/sqlite-ledger.js';
import { ChainBuilder, type ChainHead } from '../src/audit/chain.js';
import { ticksToMicroseconds } from './harness.js';
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

interface Ticks {
  readonly user: number;
  readonly system: number;
}

/** User and system CPU ticks of each thread of this process (fields 14 and 15 of proc(5)). */
function ticksByThread(): Map<string, Ticks> {
  const threads = new Map<string, Ticks>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      threads.set(tid, { user: Number(fields[11]), system: Number(fields[12]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return threads;
}

function spent(before: Map<string, Ticks>, after: Map<string, Ticks>, tid: string): Ticks {
  const [a, b] = [before.get(tid), after.get(tid)];
  if (!a || !b) throw new Error(`thread ${tid} is gone`);
  return { user: ticksToMicroseconds(b.user - a.user), system: ticksToMicroseconds(b.system - a.system) };
}

console.log('| entries per commit | writer µs per commit (user + system) | writer µs per entry | event loop µs per commit | wall µs per commit |');
console.log('|---|---|---|---|---|');
for (const size of sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'p11kms-bench-commit-'));
  try {
    const before = new Set(ticksByThread().keys());
    const store = await SqliteLedgerStore.open(join(dir, 'ledger.db'));
    const writers = [...ticksByThread().keys()].filter((tid) => !before.has(tid));
    if (writers.length !== 1) throw new Error(`expected the store to start one thread, found ${writers.length}`);
    const writer = writers[0]!;
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
    const start = ticksByThread();
    const started = performance.now();
    await append(commits);
    const wall = ((performance.now() - started) * 1000) / commits;
    const end = ticksByThread();
    const ofWriter = spent(start, end, writer);
    const ofLoop = spent(start, end, String(process.pid));
    const perCommit = (ofWriter.user + ofWriter.system) / commits;
    console.log(
      `| ${size} | ${perCommit.toFixed(0)} (${(ofWriter.user / commits).toFixed(0)} + ${(ofWriter.system / commits).toFixed(0)}) | ` +
        `${(perCommit / size).toFixed(1)} | ${((ofLoop.user + ofLoop.system) / commits).toFixed(0)} | ${wall.toFixed(0)} |`,
    );
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
