/**
 * Throughput of one p11kms replica versus two on this machine (issue 7), in the same run: real
 * `p11kms serve` processes on one PostgreSQL (the test harness's own, fsync on) and one SoftHSM2
 * token directory, Encrypt of 1 KiB over mTLS, driven by load-generator processes (one per replica,
 * so the client is not the bottleneck) keeping CONCURRENCY calls in flight each.
 *
 *   npm run bench:replicas                 (BENCH_SECONDS=10 BENCH_CONCURRENCY=32 to change)
 *
 * The same file is the load generator: `node dist/bench/replicas.js --load '<json>'`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { dataDirLayout } from '../src/cli/data-dir.js';
import { startPostgres } from '../test/support/postgres.js';

const CLI = resolve('dist/src/cli/main.js');
const SELF = resolve('dist/bench/replicas.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

interface LoadJob {
  readonly address: string;
  readonly dataDir: string;
  readonly keyId: string;
  readonly concurrency: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function client(address: string, dataDir: string): any {
  const definition = protoLoader.loadSync('p11kms/v1/kms.proto', {
    keepCase: true, longs: String, enums: String, defaults: false, arrays: true, objects: true, oneofs: true,
    includeDirs: [resolve('proto')],
  });
  const Client = (grpc.loadPackageDefinition(definition) as any).p11kms.v1.KeyManagementService;
  const layout = dataDirLayout(dataDir);
  return new Client(
    address,
    grpc.credentials.createSsl(readFileSync(layout.caCert), readFileSync(layout.adminKey), readFileSync(layout.adminCert)),
    { 'grpc.ssl_target_name_override': 'localhost' },
  );
}

function unary(kms: any, method: string, request: object): Promise<any> {
  return new Promise((done, fail) =>
    kms[method](request, { deadline: Date.now() + 30_000 }, (error: Error | null, response: any) => (error ? fail(error) : done(response))),
  );
}

/** The load generator: `concurrency` Encrypt calls in flight until `seconds` after the warm-up. */
async function generateLoad(job: LoadJob): Promise<LoadResult> {
  const kms = client(job.address, job.dataDir);
  const plaintext = Buffer.alloc(1024, 7);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const warmEnd = performance.now() + job.warmupSeconds * 1000;
  const end = warmEnd + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        try {
          await unary(kms, 'Encrypt', { key_id: job.keyId, plaintext });
          if (started >= warmEnd) latencies.push(performance.now() - started);
        } catch (error) {
          if (started >= warmEnd) errors++;
          firstError ??= String((error as Error).message);
        }
      }
    }),
  );
  kms.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, errors, firstError, p50Ms: at(0.5), p99Ms: at(0.99) };
}

function startReplica(dataDir: string, url: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--store', url, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  let output = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`replica did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"address":"(127\.0\.0\.1:\d+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        done({ child, address: match[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => fail(new Error(`replica exited with ${code}:\n${output}`)));
  });
}

/** One load-generator process per address, all at once; their results summed. */
async function measure(addresses: string[], dataDir: string, keyId: string): Promise<LoadResult & { rps: number }> {
  const results = await Promise.all(
    addresses.map(
      (address) =>
        new Promise<LoadResult>((done, fail) => {
          const job: LoadJob = { address, dataDir, keyId, concurrency: CONCURRENCY, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS };
          const child = spawn(process.execPath, [SELF, '--load', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
          child.once('exit', (code) => (code === 0 ? done(JSON.parse(out) as LoadResult) : fail(new Error(`load generator exited ${code}`))));
        }),
    ),
  );
  const requests = results.reduce((sum, r) => sum + r.requests, 0);
  return {
    requests,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
    p50Ms: Math.max(...results.map((r) => r.p50Ms)),
    p99Ms: Math.max(...results.map((r) => r.p99Ms)),
    rps: requests / SECONDS,
  };
}

async function main(): Promise<void> {
  const postgres = await startPostgres();
  const dataDir = mkdtempSync(join(tmpdir(), 'p11kms-bench-replicas-'));
  const replicas: ChildProcess[] = [];
  try {
    const init = spawnSync(process.execPath, [CLI, 'init', '--data-dir', dataDir], { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`p11kms init failed: ${init.stderr}`);
    const first = await startReplica(dataDir, postgres.connectionString);
    replicas.push(first.child);
    const kms = client(first.address, dataDir);
    const keyId = (await unary(kms, 'CreateKey', { description: 'bench:replicas' })).key_metadata.key_id as string;
    kms.close();

    const one = await measure([first.address], dataDir, keyId);
    const second = await startReplica(dataDir, postgres.connectionString);
    replicas.push(second.child);
    const two = await measure([first.address, second.address], dataDir, keyId);

    const row = (name: string, r: LoadResult & { rps: number }) =>
      `| ${name.padEnd(12)} | ${r.rps.toFixed(0).padStart(9)} | ${r.p50Ms.toFixed(1).padStart(8)} | ${r.p99Ms.toFixed(1).padStart(8)} | ${String(r.errors).padStart(6)} |`;
    process.stdout.write(
      [
        `Encrypt 1 KiB, ${SECONDS} s after ${WARMUP_SECONDS} s warm-up, ${CONCURRENCY} calls in flight per replica, ` +
          `${cpus().length} CPUs (replicas, PostgreSQL and load generators share them)`,
        '',
        '| replicas     | Encrypt/s | p50 (ms) | p99 (ms) | errors |',
        '|--------------|-----------|----------|----------|--------|',
        row('1', one),
        row('2', two),
        '',
        `two replicas / one replica: ${(two.rps / one.rps).toFixed(2)}x`,
        ...(one.firstError || two.firstError ? [`first error: ${one.firstError ?? two.firstError}`] : []),
        '',
      ].join('\n'),
    );
  } finally {
    for (const child of replicas) child.kill('SIGTERM');
    await new Promise((done) => setTimeout(done, 500));
    await postgres.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const loadIndex = process.argv.indexOf('--load');
if (loadIndex >= 0) {
  const result = await generateLoad(JSON.parse(process.argv[loadIndex + 1]!) as LoadJob);
  process.stdout.write(JSON.stringify(result));
} else {
  await main();
}
