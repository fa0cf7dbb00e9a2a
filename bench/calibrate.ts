/**
 * `npm run bench:calibrate [-- --burns 0,25,50,75,100,150 --rounds 5 --seconds 5]`: how much CPU
 * per call a gRPC service may add on this machine and still reach a given share of the no-op
 * server's throughput.
 *
 * The same Encrypt load (64 in flight) runs, in turns, against p11kms and against no-op servers
 * (bench/noop-server.ts) that spin for BURN µs in every handler before answering. The spinning
 * servers do no work but CPU, with no memory traffic and no other threads: a server that adds the
 * same CPU per call in real work can only do as well or worse. The spin is timed on the wall
 * clock, so a spin the OS interrupts costs less CPU than BURN µs: the curve errs on the generous
 * side, and the µs it gives for a share are an upper bound. The curve of their throughput
 * against the plain no-op server's answers two questions the targets of bench/run.ts raise:
 *  - the most CPU per call any server may add here and still reach 0.80 of the no-op server;
 *  - how many µs of spinning p11kms's throughput corresponds to (its "equivalent spin").
 * The load generator shares the two cores, so a busier server also slows the client: that effect
 * is in the curve too, which is why the answer is measured rather than computed. The floor server
 * (bench/floor-server.ts: the token call and a durable chained append, nothing else) runs in the
 * same turns, committing on the event loop (the least CPU) and on a writer thread (as p11kms does):
 * the better of the two is the most a server keeping custody and audit before answer reaches here.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { type BenchProcess, loadOnce, median, startBenchService, startFloorServer, startNoopServer, wire } from './harness.js';

const { values } = parseArgs({
  options: {
    burns: { type: 'string', default: '0,25,50,75,100,150' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
  },
});
const burns = values.burns!.split(',').map(Number);
if (burns[0] !== 0 || burns.some((burn) => !Number.isFinite(burn) || burn < 0)) throw new Error('--burns must start at 0 and list µs ≥ 0');
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const TARGET = 0.8;

const service = await startBenchService();
const noops: Array<BenchProcess & { burn: number }> = [];
for (const burn of burns) noops.push({ burn, ...(await startNoopServer(service, { burnUs: burn })) });
const FLOOR_ON_LOOP = 'floor Encrypt (token call and durable chained append only), committing on the event loop';
const FLOOR_ON_THREAD = 'floor Encrypt, committing on a writer thread';
const floor = await startFloorServer(service);
const floorThread = await startFloorServer(service, 'thread');
const key = await service.createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
const request = wire({ key_id: key, plaintext: Buffer.alloc(1024, 42), encryption_context: { app: 'bench' } });
const cells = [
  { label: 'p11kms Encrypt', pid: service.server.pid!, address: service.address },
  ...noops.map((noop) => ({ label: `noop, ${noop.burn} µs spin per call`, pid: noop.pid, address: noop.address })),
  { label: FLOOR_ON_LOOP, pid: floor.pid, address: floor.address },
  { label: FLOOR_ON_THREAD, pid: floorThread.pid, address: floorThread.address },
];

interface Measured {
  rps: number;
  serverCpuUs: number;
  clientCpuUs: number;
}
const measured: Record<string, Measured[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const cell of cells) {
    const result = await loadOnce({ address: cell.address, ...service.developer, rpc: 'Encrypt', requests: [request], concurrency: 64, seconds, warmupSeconds: 1, serverPid: cell.pid });
    if (result.errors) throw new Error(`${cell.label}: ${result.errors} errors, e.g. ${result.firstError}`);
    (measured[cell.label] ??= []).push({ rps: result.rps, serverCpuUs: result.serverCpuUsPerRequest ?? NaN, clientCpuUs: result.clientCpuUsPerRequest });
  }
}
for (const server of [...noops, floor, floorThread]) await server.stop();
await service.stop();
rmSync(service.dataDir, { recursive: true, force: true });

const base = measured[cells[1]!.label]!;
/** Per cell: the median over rounds of its throughput over the plain no-op server's in the same round. */
const ratio = (label: string) => median(measured[label]!.map((m, round) => m.rps / base[round]!.rps));
const curve = noops.map((noop) => ({ burn: noop.burn, ratio: ratio(`noop, ${noop.burn} µs spin per call`) }));
/** The burn at which the curve (linearly interpolated) falls to `share`; undefined beyond its ends. */
const burnAt = (share: number): number | undefined => {
  for (let i = 1; i < curve.length; i++) {
    const [a, b] = [curve[i - 1]!, curve[i]!];
    if (a.ratio >= share && b.ratio <= share) return a.ratio === b.ratio ? a.burn : a.burn + ((a.ratio - share) / (a.ratio - b.ratio)) * (b.burn - a.burn);
  }
  return undefined;
};
const p11kmsRatio = ratio('p11kms Encrypt');
/** The floor that did better over the rounds bounds what an implementation of the invariants reaches. */
const floorLabel = ratio(FLOOR_ON_LOOP) >= ratio(FLOOR_ON_THREAD) ? FLOOR_ON_LOOP : FLOOR_ON_THREAD;
const floorRatio = ratio(floorLabel);
const summary = {
  [`most CPU per call a server may add and still reach ${TARGET} of the no-op server (µs)`]: burnAt(TARGET),
  'p11kms Encrypt@64 / no-op server': p11kmsRatio,
  "p11kms's equivalent spin: µs of spinning per call with the same throughput": burnAt(p11kmsRatio),
  'floor Encrypt@64 / no-op server, committing on the event loop': ratio(FLOOR_ON_LOOP),
  'floor Encrypt@64 / no-op server, committing on a writer thread': ratio(FLOOR_ON_THREAD),
  [`the better floor (${floorLabel === FLOOR_ON_LOOP ? 'on the event loop' : 'on a writer thread'}) / no-op server: the most custody and audit before answer allow here`]: floorRatio,
  "the better floor's equivalent spin (µs)": burnAt(floorRatio),
  'p11kms Encrypt@64 / the better floor': median(measured['p11kms Encrypt']!.map((m, round) => m.rps / measured[floorLabel]![round]!.rps)),
};

const date = new Date().toISOString();
const lines = [
  `p11kms calibration — ${date}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, Encrypt 1 KiB at 64 in flight, ${rounds} rounds in turns of ${seconds}s`,
  '',
  '| server | req/s | server CPU µs/req | client CPU µs/call | / no-op server (median of per-round ratios) | per round |',
  '|---|---|---|---|---|---|',
  ...cells.map(({ label }) => {
    const rows = measured[label]!;
    return `| ${label} | ${median(rows.map((m) => m.rps)).toFixed(0)} | ${median(rows.map((m) => m.serverCpuUs)).toFixed(0)} | ${median(rows.map((m) => m.clientCpuUs)).toFixed(0)} | ${ratio(label).toFixed(2)} | ${rows.map((m, round) => (m.rps / base[round]!.rps).toFixed(2)).join(' ')} |`;
  }),
  '',
  ...Object.entries(summary).map(([name, value]) => `- ${name}: ${value === undefined ? 'outside the measured burns' : value.toFixed(value < 2 ? 2 : 0)}`),
];
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/calibrate-${date.replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ date, rounds, seconds, burns, measured, curve, summary }, null, 2));
process.stdout.write(`\nresults: ${file}\n`);
