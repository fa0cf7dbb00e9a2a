/**
 * The load generator, run as its own process so that client work is not counted against the
 * server: `node dist/bench/load-generator.js` reads one JSON job on stdin, keeps `concurrency`
 * unary calls in flight for `seconds`, and prints {requests, errors, rps, p50Ms, p99Ms,
 * clientCpuUsPerRequest} on stdout.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

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
  const warmupEnd = started + job.warmupSeconds * 1000;
  const end = warmupEnd + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const error = await call(requests[next++ % requests.length]);
        const t1 = performance.now();
        if (t0 < warmupEnd) continue;
        if (error) {
          errors++;
          firstError ??= error;
        } else latencies.push(t1 - t0);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  client.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requests: latencies.length, errors, firstError, rps: latencies.length / job.seconds, p50Ms: at(0.5), p99Ms: at(0.99),
    clientCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, next),
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
