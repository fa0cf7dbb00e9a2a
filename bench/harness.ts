/**
 * What bench/run.ts and bench/profile.ts share: a freshly initialised data dir, the real server
 * in its own process (with whatever node flags the caller wants: the loop probe, --cpu-prof), an
 * admin client, the key policy every benchmark key carries, and the load generator.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { LoadJob, LoadResult } from './load-generator.js';

export const CLI = resolve('dist/src/cli/main.js');
export const ACCOUNT = '111122223333';
export const DEVELOPER = `arn:aws:iam::${ACCOUNT}:role/DeveloperRole`;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface Credentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Runs the p11kms CLI (`program`: another build's dist/src/cli/main.js, for bench/ab.ts). */
export function cli(args: string[], program = CLI): any {
  const result = spawnSync(process.execPath, [program, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`p11kms ${args[0]}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** CPU seconds × CLK_TCK the process (all its threads) has used: utime + stime, fields 14 and 15 of proc(5). */
export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU ticks per thread of a process, by "tid name" (/proc/PID/task/TID/stat). */
export function threadTicks(pid: number): Map<string, number> {
  return new Map([...threadTimes(pid)].map(([thread, { user, system }]) => [thread, user + system]));
}

/** User and system CPU ticks per thread of a process, by "tid name": utime and stime, fields 14 and 15 of proc(5). */
export function threadTimes(pid: number): Map<string, { user: number; system: number }> {
  const threads = new Map<string, { user: number; system: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      threads.set(`${tid} ${name}`, { user: Number(fields[11]), system: Number(fields[12]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return threads;
}

export function ticksToMicroseconds(ticks: number): number {
  return (ticks * 1e6) / CLK_TCK;
}

/** The middle element by `of` (the median of an odd count). */
export const middle = <T>(values: readonly T[], of: (value: T) => number): T =>
  [...values].sort((a, b) => of(a) - of(b))[values.length >> 1]!;

/** The median of an odd count of numbers. */
export const median = (numbers: readonly number[]): number => middle(numbers, (n) => n);

/** A bench server in its own process: its address once it listens, and a stop that waits for its exit. */
export interface BenchProcess {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly address: string;
  /** SIGTERM, and wait for the process to exit (it closes its token session, writes its profiles). */
  stop(): Promise<void>;
}

/** `dist/bench/<script> ARGS…` under node with `nodeArgs`, once it prints {"address": "127.0.0.1:PORT"}. */
export async function startBenchProcess(
  script: string,
  args: readonly string[],
  options: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<BenchProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), resolve('dist/bench', script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...options.env },
  });
  const exited = new Promise((r) => child.once('exit', r));
  const address = (await waitForLine(child, /"address":"(127\.0\.0\.1:\d+)"/))[1]!;
  keepOutput(child, process.env.P11KMS_BENCH_BASELINE_LOG);
  return {
    process: child, pid: child.pid!, address,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * bench/noop-server.ts with the bench service's TLS files; `burnUs` makes every handler spin that
 * long first (bench/calibrate.ts), `nodeArgs` and `env` go to its process.
 */
export function startNoopServer(
  service: Pick<BenchService, 'admin' | 'pki'>,
  options: { burnUs?: number; nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<BenchProcess> {
  const args = [service.admin.ca, join(service.pki, 'server.pem'), join(service.pki, 'server.key'), String(options.burnUs ?? 0)];
  return startBenchProcess('noop-server.js', args, options);
}

/** bench/floor-full-server.ts on the bench service's token and TLS files, with BENCH_POLICY. */
export function startFullFloorServer(
  service: Pick<BenchService, 'admin' | 'pki' | 'dataDir'>,
  options: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<BenchProcess> {
  const args = [service.admin.ca, join(service.pki, 'server.pem'), join(service.pki, 'server.key'), join(service.dataDir, 'pin'), join(service.dataDir, 'floor-full.db'), BENCH_POLICY];
  return startBenchProcess('floor-full-server.js', args, { nodeArgs: options.nodeArgs, env: { ...options.env, SOFTHSM2_CONF: join(service.dataDir, 'softhsm2.conf') } });
}

/**
 * bench/floor-server.ts on the bench service's token (a session key of its own) and TLS files, with
 * its ledger file in the data dir, committing on the event loop or on a thread; `nodeArgs` and
 * `env` go to its process.
 */
export function startFloorServer(
  service: Pick<BenchService, 'admin' | 'pki' | 'dataDir'>,
  mode: 'loop' | 'thread' = 'loop',
  options: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<BenchProcess> {
  const args = [service.admin.ca, join(service.pki, 'server.pem'), join(service.pki, 'server.key'), join(service.dataDir, 'pin'), join(service.dataDir, `floor-ledger-${mode}.db`), mode];
  return startBenchProcess('floor-server.js', args, { nodeArgs: options.nodeArgs, env: { ...options.env, SOFTHSM2_CONF: join(service.dataDir, 'softhsm2.conf') } });
}

/**
 * After its address line, a server's stdout goes to `log` ($P11KMS_BENCH_SERVER_LOG for p11kms,
 * $P11KMS_BENCH_BASELINE_LOG for a baseline: e.g. its --trace-gc-nvp lines), or is dropped.
 */
function keepOutput(child: ChildProcess, log: string | undefined): void {
  child.stdout!.removeAllListeners('data');
  if (log) child.stdout!.pipe(createWriteStream(log));
  else child.stdout!.resume();
}

export async function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${output}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match);
      }
      if (output.length > 1_000_000) output = output.slice(-10_000);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
}

export function loadOnce(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [resolve('dist/bench/load-generator.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out) as LoadResult) : reject(new Error(`load generator exited ${code}`))));
    child.stdin.end(JSON.stringify(job));
  });
}

/** Requests in the load generator's wire form: Buffers travel as {base64}. */
export const wire = (value: unknown): unknown =>
  Buffer.isBuffer(value) ? { base64: value.toString('base64') } : Array.isArray(value) ? value.map(wire) : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wire(v)])) : value;

/** A realistic key policy: the account root administers, the developer role uses the key under a condition. */
export const BENCH_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Admin', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
    { Sid: 'Use', Effect: 'Allow', Principal: { AWS: DEVELOPER }, Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey', 'kms:Sign', 'kms:Verify', 'kms:GenerateMac'], Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:app': 'bench' } } },
    { Sid: 'UseAsymmetric', Effect: 'Allow', Principal: { AWS: DEVELOPER }, Action: ['kms:Sign', 'kms:Verify', 'kms:GenerateMac'], Resource: '*' },
  ],
});

export interface BenchService {
  readonly dataDir: string;
  readonly pki: string;
  readonly server: ChildProcess;
  readonly address: string;
  readonly admin: Credentials;
  readonly developer: Credentials;
  call(rpc: string, request: object): Promise<any>;
  /** A key with BENCH_POLICY; returns its id. */
  createKey(spec: string, usage: string): Promise<string>;
  /** SIGTERM, and wait for the process to exit (profiles are written on exit). */
  stop(): Promise<void>;
}

export async function startBenchService(options: { nodeArgs?: string[]; env?: Record<string, string>; cli?: string } = {}): Promise<BenchService> {
  const program = options.cli ?? CLI;
  const dataDir = mkdtempSync(join(tmpdir(), 'p11kms-bench-'));
  cli(['init', '--data-dir', dataDir], program);
  const issued = cli(['issue-cert', '--data-dir', dataDir, '--principal', DEVELOPER, '--name', 'developer'], program);
  const pki = join(dataDir, 'pki');
  const admin = { ca: join(pki, 'ca.pem'), cert: join(pki, 'clients', 'admin.pem'), key: join(pki, 'clients', 'admin.key') };
  const developer = { ca: admin.ca, cert: issued.cert as string, key: issued.key as string };

  const server = spawn(process.execPath, [...(options.nodeArgs ?? []), program, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = (await waitForLine(server, /"address":"(127\.0\.0\.1:\d+)"/))[1]!;
  keepOutput(server, process.env.P11KMS_BENCH_SERVER_LOG);

  const definition = protoLoader.loadSync('p11kms/v1/kms.proto', { keepCase: true, longs: String, enums: String, defaults: false, arrays: true, objects: true, includeDirs: [resolve('proto')] });
  const Client = (grpc.loadPackageDefinition(definition) as any).p11kms.v1.KeyManagementService;
  const adminClient = new Client(address, grpc.credentials.createSsl(readFileSync(admin.ca), readFileSync(admin.key), readFileSync(admin.cert)), { 'grpc.ssl_target_name_override': 'localhost' });
  const call = (rpc: string, request: object): Promise<any> =>
    new Promise((res, rej) => adminClient[rpc](request, (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
  return {
    dataDir, pki, server, address, admin, developer, call,
    createKey: async (spec, usage) => (await call('CreateKey', { policy: BENCH_POLICY, key_spec: `KEY_SPEC_${spec}`, key_usage: `KEY_USAGE_${usage}` })).key_metadata.key_id as string,
    async stop() {
      adminClient.close();
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    },
  };
}
