/**
 * The load generator, run as its own process so that client work is not counted against the
 * server: `node dist/bench/load-generator.js` reads one JSON job on stdin, keeps `concurrency`
 * unary calls in flight for `seconds`, and prints {requests, errors, rps, p50Ms, p99Ms,
 * clientCpuUsPerRequest, serverCpuUsPerRequest} on stdout.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { cpuTicks, ticksToMicroseconds } from './harness.js';

export interface LoadJob {
  readonly address: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly rpc: string;
  /** Requests in wire form (snake_case), used round-robin; Buffers travel as {base64}. */
  readonly requests: unknown[];
  readonly concurrency: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /**
   * The warm-up also lasts until this many calls were sent (default 0): the scale case sends each
   * of its 10,000 requests twice first, as the 10-key case does within its first second, so that
   * both are measured in the steady state of a service whose keys are in use.
   */
  readonly warmupRequests?: number;
  /** The server's process id: its CPU time over the measured window is reported per call. */
  readonly serverPid?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** This process's CPU time per call, warm-up included: what the client side of a call costs. */
  readonly clientCpuUsPerRequest: number;
  /** With job.serverPid: the server's CPU time (all its threads) over the measured window, per call measured. */
  readonly serverCpuUsPerRequest?: number;
}

const revive = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.base64 === 'string' && Object.keys(record).length === 1) return Buffer.from(record.base64, 'base64');
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revive(v)]));
  }
  return value;
};

async function run(job: LoadJob): Promise<LoadResult> {
  const definition = protoLoader.loadSync('p11kms/v1/kms.proto', {
    keepCase: true, longs: String, enums: String, defaults: false, arrays: true, objects: true, oneofs: true,
    includeDirs: [resolve('proto')],
  });
  const Client = (grpc.loadPackageDefinition(definition) as any).p11kms.v1.KeyManagementService;
  const client = new Client(
    job.address,
    grpc.credentials.createSsl(readFileSync(job.ca), readFileSync(job.key), readFileSync(job.cert)),
    { 'grpc.ssl_target_name_override': 'localhost' },
  );
  const requests = job.requests.map(revive);
  const call = (request: unknown) =>
    new Promise<string | undefined>((done) =>
      client[job.rpc](request, { deadline: Date.now() + 30_000 }, (error: grpc.ServiceError | null) =>
        done(error ? `${error.code} ${error.details}` : undefined),
      ),
    );

  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let warmupEnd = started + job.warmupSeconds * 1000;
  let warming = (job.warmupRequests ?? 0) > 0;
  // While warm-up calls are still to be sent, the window has no end yet.
  let end = warming ? Infinity : warmupEnd + job.seconds * 1000;
  let serverTicksAtStart: number | undefined;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (warming && next >= job.warmupRequests! && t0 >= warmupEnd) {
          // The last warm-up call was sent: the measured window starts now.
          warming = false;
          warmupEnd = t0;
          end = warmupEnd + job.seconds * 1000;
        }
        const sentDuringWarmup = warming || t0 < warmupEnd;
        if (!sentDuringWarmup && serverTicksAtStart === undefined && job.serverPid) serverTicksAtStart = cpuTicks(job.serverPid);
        const error = await call(requests[next++ % requests.length]);
        const t1 = performance.now();
        if (sentDuringWarmup) continue;
        if (error) {
          errors++;
          firstError ??= error;
        } else latencies.push(t1 - t0);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const serverUs = job.serverPid && serverTicksAtStart !== undefined ? ticksToMicroseconds(cpuTicks(job.serverPid) - serverTicksAtStart) : undefined;
  client.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requests: latencies.length, errors, firstError, rps: latencies.length / job.seconds, p50Ms: at(0.5), p99Ms: at(0.99),
    clientCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, next),
    serverCpuUsPerRequest: serverUs === undefined ? undefined : serverUs / Math.max(1, latencies.length),
  };
}

let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  run(JSON.parse(input) as LoadJob).then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (error: unknown) => {
      process.stderr.write(String(error));
      process.exit(1);
    },
  );
});
