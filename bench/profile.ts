/**
 * `npm run bench:profile [-- --rpc Encrypt --concurrency 64 --seconds 10 --top 40 --keys 1]`: where the
 * server's CPU goes under one benchmark load. Starts the bench server under `node --cpu-prof`
 * (every thread writes a profile: the main thread and the workers), drives it from the load
 * generator, stops it, and prints per thread the busy share, its self time by origin (p11kms's own
 * code, gRPC, Node's internals, the token, SQLite, GC…) and the functions with the most self and
 * inclusive time. The .cpuprofile files are kept (open them in Chrome DevTools for a flame graph).
 * `--server noop`, `--server floor`, `--server floor-thread` or `--server floor-full` profiles a
 * baseline (bench/noop-server.ts, floor-server.ts, floor-full-server.ts) under the same Encrypt load
 * instead, so that the two can be set side by side.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuTicks, loadOnce, startBenchService, startFloorServer, startFullFloorServer, startNoopServer, threadTicks, ticksToMicroseconds, wire } from './harness.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({
  options: {
    rpc: { type: 'string', default: 'Encrypt' },
    concurrency: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    /** Encrypt only: spread the load round-robin over this many keys (the scale case). */
    keys: { type: 'string', default: '1' },
    top: { type: 'string', default: '35' },
    /** Extra node flags for the server, space-separated (e.g. "--max-semi-space-size=32"). */
    'node-args': { type: 'string', default: '' },
    /**
     * Profile the main thread over the measured window only (through the loop probe), not every
     * thread over the whole run: the setup of --keys 10000 would otherwise fill the profile.
     */
    window: { type: 'boolean', default: false },
    /** Measure only: no --cpu-prof, which itself costs CPU. */
    'no-profile': { type: 'boolean', default: false },
    /**
     * Sample the main thread's allocations over the measured window instead of its CPU: bytes per
     * request by origin and by allocating function. `all` counts every allocation, freed ones
     * included; `promoted` only what outlived the young generation (what old-space GC then pays for).
     */
    heap: { type: 'string' },
    /** p11kms, or a baseline under the same Encrypt load: noop, floor (committing on its event loop), floor-thread or floor-full. */
    server: { type: 'string', default: 'p11kms' },
  },
});
if (values.heap !== undefined && !['all', 'promoted'].includes(values.heap)) throw new Error('--heap is all or promoted');
if (!['p11kms', 'noop', 'floor', 'floor-thread', 'floor-full'].includes(values.server!)) throw new Error('--server is p11kms, noop, floor, floor-thread or floor-full');
if (values.server !== 'p11kms' && (values.rpc !== 'Encrypt' || values.keys !== '1')) throw new Error(`--server ${values.server} takes --rpc Encrypt with one key`);
const seconds = Number(values.seconds);
const top = Number(values.top);

const profileDir = mkdtempSync(join(tmpdir(), 'p11kms-profile-'));
const probeFile = join(profileDir, 'probe.json');
// The process under study carries the loop probe (and, with --window, the window profiler).
const probed = {
  env: {
    P11KMS_BENCH_PROBE: probeFile,
    ...(values.heap ? { P11KMS_BENCH_HEAP_PROFILE: profileDir, P11KMS_BENCH_HEAP_KEEP: values.heap } : values.window && !values['no-profile'] ? { P11KMS_BENCH_CPU_PROFILE: profileDir } : {}),
  },
  nodeArgs: [
    '--import', resolve('dist/bench/loop-probe.js'),
    ...values['node-args']!.split(' ').filter(Boolean),
    ...(values['no-profile'] || values.window || values.heap ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '200']),
  ],
};
const service = await startBenchService(values.server === 'p11kms' ? probed : {});
const baseline =
  values.server === 'noop'
    ? await startNoopServer(service, probed)
    : values.server === 'floor-full'
      ? await startFullFloorServer(service, probed)
    : values.server.startsWith('floor')
      ? await startFloorServer(service, values.server === 'floor' ? 'loop' : 'thread', probed)
      : undefined;
const target = baseline ? { pid: baseline.pid, address: baseline.address } : { pid: service.server.pid!, address: service.address };
const key = await service.createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
const plaintext = Buffer.alloc(1024, 42);
const context = { app: 'bench' };
const sealed = (await service.call('Encrypt', { key_id: key, plaintext, encryption_context: context })).ciphertext_blob as Buffer;
const requests: Record<string, object> = {
  Encrypt: { key_id: key, plaintext, encryption_context: context },
  Decrypt: { ciphertext_blob: sealed, encryption_context: context },
  GenerateDataKey: { key_id: key, key_spec: 'DATA_KEY_SPEC_AES_256', encryption_context: context },
  ReEncrypt: { ciphertext_blob: sealed, source_encryption_context: context, destination_key_id: key, destination_encryption_context: context },
};
if (values.rpc === 'Sign') {
  const signingKey = await service.createKey('RSA_2048', 'SIGN_VERIFY');
  requests.Sign = { key_id: signingKey, message: plaintext, message_type: 'MESSAGE_TYPE_RAW', signing_algorithm: 'SIGNING_ALGORITHM_SPEC_RSASSA_PKCS1_V1_5_SHA_256' };
}
const request = requests[values.rpc!];
if (!request) throw new Error(`--rpc must be one of ${Object.keys(requests).join(', ')}, Sign`);
const load: object[] = [request];
if (Number(values.keys) > 1) {
  if (values.rpc !== 'Encrypt') throw new Error('--keys goes with --rpc Encrypt');
  while (load.length < Number(values.keys)) load.push({ ...request, key_id: await service.createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT') });
}

/** Busy and total jiffies of the whole machine (the first line of /proc/stat). */
const machine = () => {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3]! + fields[4]!;
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
};
// Over several keys, every request goes twice before anything is measured, as in `npm run bench`:
// the window then sees the steady state (working copies made), not the first uses of each key.
const job = { address: target.address, ...service.developer, rpc: values.rpc!, requests: load.map(wire), concurrency: Number(values.concurrency) };
if (load.length > 1) await loadOnce({ ...job, seconds: 1, warmupSeconds: 0, warmupRequests: 2 * load.length });
const machineBefore = machine();
process.kill(target.pid, 'SIGUSR2'); // a fresh event-loop delay window
const before = cpuTicks(target.pid);
const threadsBefore = threadTicks(target.pid);
const result = await loadOnce({ ...job, seconds, warmupSeconds: 1 });
const cpuUs = ticksToMicroseconds(cpuTicks(target.pid) - before);
const machineAfter = machine();
const threadsAfter = threadTicks(target.pid);
process.kill(target.pid, 'SIGUSR2');
await new Promise((r) => setTimeout(r, 100));
const windowFile = join(profileDir, values.heap ? 'window-1.heapprofile' : 'window-1.cpuprofile');
for (let waited = 0; (values.heap || (values.window && !values['no-profile'])) && !existsSync(windowFile) && waited < 10_000; waited += 100) {
  await new Promise((r) => setTimeout(r, 100));
}
const probe = JSON.parse(readFileSync(probeFile, 'utf8')) as { p99Ms: number; maxMs: number; rssBytes: number };
const machineBusy = (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
await baseline?.stop();
await service.stop();
rmSync(service.dataDir, { recursive: true, force: true });

const perRequest = (us: number) => us / Math.max(1, result.requests * ((seconds + 1) / seconds));
process.stdout.write(
  `${values.server === 'p11kms' ? '' : `${values.server} server, `}${values.rpc}${load.length > 1 ? ` over ${load.length} keys` : ''} at ${values.concurrency} in flight: ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, ` +
    `p99 ${result.p99Ms.toFixed(2)} ms, server CPU ${perRequest(cpuUs).toFixed(0)} µs/req (all threads, /proc), ` +
    `client CPU ${result.clientCpuUsPerRequest.toFixed(0)} µs/call, ` +
    `loop delay p99 ${probe.p99Ms.toFixed(2)} ms (max ${probe.maxMs.toFixed(1)}), RSS ${(probe.rssBytes / 2 ** 20).toFixed(0)} MiB, ` +
    `machine ${(100 * machineBusy).toFixed(0)}% busy${result.errors ? `, ${result.errors} errors: ${result.firstError}` : ''}\n`,
);

const byThread = [...threadsAfter]
  .map(([thread, ticks]) => [thread, perRequest(ticksToMicroseconds(ticks - (threadsBefore.get(thread) ?? 0)))] as const)
  .filter(([, us]) => us >= 1)
  .sort((a, b) => b[1] - a[1]);
process.stdout.write(`server threads (µs/req): ${byThread.map(([t, us]) => `${t} ${us.toFixed(0)}`).join(', ')}\n`);

/**
 * Where a sampled frame's own time belongs: the code that ran, by package or part of the runtime.
 * A native frame (no URL: a C++ binding, a builtin, eval'd code) counts for the nearest caller
 * that has one (SQLite's statements count for better-sqlite3, a SHA-256 update for Node's crypto
 * module); the post to a worker thread and the token's native calls are named on their own.
 */
function origin<Node extends Pick<ProfileNode, 'callFrame'>>(node: Node, parentOf: (node: Node) => Node | undefined): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'program';
  if (functionName === 'postMessage' && url === '') return 'postMessage to a worker';
  if (functionName === 'PKCS11' || url.includes('/node_modules/pkcs11js/')) return 'token (pkcs11js)';
  if (url === '') {
    const caller = parentOf(node);
    return caller && caller.callFrame.functionName !== '(root)' ? origin(caller, parentOf) : 'other';
  }
  if (url.includes('/dist/src/')) return 'p11kms';
  if (url.includes('/dist/bench/')) return 'bench server';
  if (url.startsWith('node:')) return 'Node internals';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg === '@grpc/grpc-js' || pkg === '@grpc/proto-loader' || pkg === 'protobufjs' || pkg?.startsWith('@protobufjs/')) return 'gRPC';
  return pkg ?? 'other';
}

for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const label = (node: ProfileNode) => frameLabel(node.callFrame);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, index) => {
    const dt = profile.timeDeltas[index] ?? 0;
    total += dt;
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const from = origin(node, (child) => byId.get(parent.get(child.id) ?? -1));
    byOrigin.set(from, (byOrigin.get(from) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
    }
  });
  const busy = total - idle;
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, t]) => `  ${((100 * t) / busy).toFixed(1).padStart(5)}%  ${perRequest(t).toFixed(1).padStart(7)} µs/req  ${name}`)
      .join('\n');
  const origins = [...byOrigin.entries()].sort((a, b) => b[1] - a[1]).map(([name, t]) => `${name} ${perRequest(t).toFixed(1)}`).join(' | ');
  process.stdout.write(
    `\n== ${file}: busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s (${perRequest(busy).toFixed(0)} µs/req)\n` +
      `-- self by origin (µs/req): ${origins}\n-- self\n${rows(self)}\n-- inclusive\n${rows(inclusive)}\n`,
  );
}
/** `function file:line`, with node_modules and dist shortened. */
function frameLabel({ functionName, url, lineNumber }: ProfileNode['callFrame']): string {
  const where = url.replace(/^.*\/node_modules\//, '~/').replace(/^.*\/dist\//, '');
  return `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
}

interface HeapNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: HeapNode[];
}

/** Bytes allocated per request by origin and by allocating function (self and inclusive). */
function summariseHeap(file: string, root: HeapNode): void {
  const parentOf = new Map<HeapNode, HeapNode>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, path: string[]) => {
    const name = frameLabel(node.callFrame);
    if (node.selfSize > 0) {
      total += node.selfSize;
      self.set(name, (self.get(name) ?? 0) + node.selfSize);
      const from = origin(node, (child) => parentOf.get(child));
      byOrigin.set(from, (byOrigin.get(from) ?? 0) + node.selfSize);
      for (const frame of new Set([...path, name])) inclusive.set(frame, (inclusive.get(frame) ?? 0) + node.selfSize);
    }
    for (const child of node.children) {
      parentOf.set(child, node);
      walk(child, [...path, name]);
    }
  };
  walk(root, []);
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => `  ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${perRequest(bytes).toFixed(0).padStart(7)} B/req  ${name}`)
      .join('\n');
  const origins = [...byOrigin.entries()].sort((a, b) => b[1] - a[1]).map(([name, bytes]) => `${name} ${perRequest(bytes).toFixed(0)}`).join(' | ');
  process.stdout.write(
    `\n== ${file}: ${perRequest(total).toFixed(0)} bytes per request (sampled; ${values.heap === 'promoted' ? 'only what outlived the young generation' : 'every allocation, freed ones included'})\n` +
      `-- by origin (B/req): ${origins}\n-- self\n${rows(self)}\n-- inclusive\n${rows(inclusive)}\n`,
  );
}
for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.heapprofile')).sort()) {
  summariseHeap(file, (JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as { head: HeapNode }).head);
}
// With --no-profile the directory holds only the probe's numbers, already printed above.
if (values['no-profile']) rmSync(profileDir, { recursive: true, force: true });
else process.stdout.write(`\nprofiles: ${profileDir}\n`);
