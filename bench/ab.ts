/**
 * `npm run bench:ab -- --a DIR [--rounds 7 --seconds 6 --rpc Encrypt --concurrency 64]`: is a change
 * faster? Build A is another build's dist directory, e.g. of a worktree at the commit before:
 * `git worktree add dist/ab-a-src <rev>`, then `npm run gen` and `npx tsc -p tsconfig.json` in it
 * (under dist/ it finds this checkout's node_modules); B is this build. Both servers run side by
 * side, each on its own data dir and token, and the same load runs against A, B and the no-op
 * server in turns, the order rotating every round, so that the drift of a shared machine falls on
 * all three alike. Per round it takes B / A of throughput, of server CPU per request, and of the
 * event loop's and the other threads' CPU; the medians of those ratios are the answer, and the
 * per-round ratios say how far to trust it. It also prints each server's CPU per request against
 * the no-op server's, round by round: with `--a dist` (this build against itself) a long run
 * measures the CPU target of issue 8 over many rounds. On this machine single rounds swing by
 * ±20 %, and three runs of one pair of builds (7–9 rounds each) gave CPU medians of 0.92, 1.03
 * and 1.03: only a difference well beyond ~10 % stands out. `--b-env NAME=VALUE` (repeatable) starts
 * B's server with that variable: `--a dist --b-env GLIBC_TUNABLES=…` measures a setting, not a build.
 */
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type BenchProcess, type BenchService, loadOnce, median, startBenchService, startNoopServer, threadTicks, ticksToMicroseconds, wire,
} from './harness.js';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    rounds: { type: 'string', default: '7' },
    seconds: { type: 'string', default: '6' },
    rpc: { type: 'string', default: 'Encrypt' },
    concurrency: { type: 'string', default: '64' },
    /** NAME=VALUE for B's server only, repeatable: the same build under another setting (e.g. GLIBC_TUNABLES). */
    'b-env': { type: 'string', multiple: true, default: [] },
  },
});
if (!values.a) throw new Error('--a DIR: the dist directory of build A (it holds src/cli/main.js)');
const programA = resolve(values.a, 'src/cli/main.js');
if (!existsSync(programA)) throw new Error(`no ${programA}`);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
if (!['Encrypt', 'Decrypt', 'GenerateDataKey'].includes(values.rpc!)) throw new Error('--rpc is Encrypt, Decrypt or GenerateDataKey');

const context = { app: 'bench' };
const plaintext = Buffer.alloc(1024, 42);
/** The request for one service: its own key, and for Decrypt a ciphertext it made. */
async function requestFor(service: BenchService): Promise<unknown> {
  const key = await service.createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  if (values.rpc === 'GenerateDataKey') return wire({ key_id: key, key_spec: 'DATA_KEY_SPEC_AES_256', encryption_context: context });
  const encrypt = { key_id: key, plaintext, encryption_context: context };
  if (values.rpc === 'Encrypt') return wire(encrypt);
  const sealed = (await service.call('Encrypt', encrypt)).ciphertext_blob as Buffer;
  return wire({ ciphertext_blob: sealed, encryption_context: context });
}

interface Measured {
  rps: number;
  cpuUs: number;
  /** The event loop's (main thread's) CPU per request, and that of every other thread together. */
  loopUs: number;
  othersUs: number;
}
const measured: Record<string, Measured[]> = { A: [], B: [], noop: [] };
// Whatever fails, from the first server's start to the last round, every server started is stopped.
const services: BenchService[] = [];
let noop: BenchProcess | undefined;
try {
  const a = await startBenchService({ cli: programA });
  services.push(a);
  const bEnv = values['b-env']!.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]);
  if (bEnv.some(([name]) => !name)) throw new Error('--b-env takes NAME=VALUE');
  const b = await startBenchService({ env: Object.fromEntries(bEnv) });
  services.push(b);
  noop = await startNoopServer(b);
  const cells = [
    { label: 'A', pid: a.server.pid!, address: a.address, credentials: a.developer, request: await requestFor(a) },
    { label: 'B', pid: b.server.pid!, address: b.address, credentials: b.developer, request: await requestFor(b) },
    // The no-op server (B's PKI) takes any request of the same size; it shows how the machine drifted.
    { label: 'noop', pid: noop.pid, address: noop.address, credentials: b.developer, request: wire({ key_id: 'x', plaintext, encryption_context: context }) },
  ];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[(round + i) % cells.length]!;
      const rpc = cell.label === 'noop' ? 'Encrypt' : values.rpc!;
      const before = threadTicks(cell.pid);
      const result = await loadOnce({ address: cell.address, ...cell.credentials, rpc, requests: [cell.request], concurrency, seconds, warmupSeconds: 1, serverPid: cell.pid });
      const after = threadTicks(cell.pid);
      if (result.errors) throw new Error(`${cell.label}: ${result.errors} errors, e.g. ${result.firstError}`);
      // Thread counters span the warm-up too: per request of the whole run, as bench:profile counts.
      const requests = result.requests * ((seconds + 1) / seconds);
      let loopUs = 0;
      let othersUs = 0;
      for (const [thread, ticks] of after) {
        const us = ticksToMicroseconds(ticks - (before.get(thread) ?? 0)) / requests;
        if (thread.startsWith(`${cell.pid} `)) loopUs += us;
        else othersUs += us;
      }
      measured[cell.label]!.push({ rps: result.rps, cpuUs: result.serverCpuUsPerRequest ?? NaN, loopUs, othersUs });
    }
  }
} finally {
  await noop?.stop();
  for (const service of services) {
    await service.stop();
    rmSync(service.dataDir, { recursive: true, force: true });
  }
}

const per = (pick: (m: Measured) => number) =>
  measured.B!.map((m, round) => pick(m) / pick(measured.A![round]!));
/** Each round's ratio of one server's CPU per request to the no-op server's, in that round. */
const againstNoop = (label: string) => measured[label]!.map((m, round) => m.cpuUs / measured.noop![round]!.cpuUs);
const row = (label: string) => {
  const rows = measured[label]!;
  const noopRows = measured.noop!;
  return `| ${label} | ${median(rows.map((m) => m.rps)).toFixed(0)} | ${median(rows.map((m) => m.cpuUs)).toFixed(0)} | ${median(rows.map((m) => m.loopUs)).toFixed(0)} | ${median(rows.map((m) => m.othersUs)).toFixed(0)} | ${median(rows.map((m, r) => m.rps / noopRows[r]!.rps)).toFixed(2)} | ${median(againstNoop(label)).toFixed(2)} |`;
};
const rpsRatios = per((m) => m.rps);
const cpuRatios = per((m) => m.cpuUs);
const loopRatios = per((m) => m.loopUs);
const otherRatios = per((m) => m.othersUs);
process.stdout.write(
  [
    `A/B: ${values.rpc} at ${concurrency} in flight, ${rounds} rounds in turns of ${seconds}s; A = ${values.a}, B = dist`,
    '',
    '| server | req/s | server CPU µs/req | event loop µs/req | other threads µs/req | / noop req/s | / noop CPU |',
    '|---|---|---|---|---|---|---|',
    row('A'),
    row('B'),
    row('noop'),
    '',
    `- B / A throughput: median ${median(rpsRatios).toFixed(3)} (rounds ${rpsRatios.map((r) => r.toFixed(2)).join(' ')})`,
    `- B / A server CPU per request: median ${median(cpuRatios).toFixed(3)} (rounds ${cpuRatios.map((r) => r.toFixed(2)).join(' ')})`,
    `- B / A event-loop CPU per request: median ${median(loopRatios).toFixed(3)} (rounds ${loopRatios.map((r) => r.toFixed(2)).join(' ')})`,
    `- B / A other threads' CPU per request (ledger writer, V8 helpers): median ${median(otherRatios).toFixed(3)} (rounds ${otherRatios.map((r) => r.toFixed(2)).join(' ')})`,
    `- A / noop server CPU per request, by round: ${againstNoop('A').map((r) => r.toFixed(2)).join(' ')}`,
    `- B / noop server CPU per request, by round: ${againstNoop('B').map((r) => r.toFixed(2)).join(' ')}`,
    '',
  ].join('\n'),
);
