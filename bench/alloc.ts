/**
 * `npm run bench:alloc [-- --a DIR --rounds 9 --requests 2000]`: how many bytes of JavaScript heap
 * the server's process allocates per Encrypt, counted exactly rather than sampled.
 *
 * Why: allocation is what this server's CPU follows most closely under load (a request's garbage
 * makes scavenges come sooner, and each costs what it keeps alive, bench/FINDINGS.md), and CPU per
 * request on this shared machine drifts by ±20 % from one round to the next, where a heap count
 * does not drift at all. A child process starts the whole service in process (`startService`, the
 * data dir's SQLite and SoftHSM2 token, mutual TLS on 127.0.0.1) with a young generation of 512 MB,
 * loads it with Encrypt at 64 in flight from a KmsClient in the same process (1 KiB, the bench's
 * key policy and encryption context, as the bench's developer role), and reads the heap in use
 * before and after each round of `--requests` requests. A round in which any collection ran (the
 * sampling of a big round may need one) is left out; the median of the clean rounds is the answer.
 * The count includes the in-process client's share, the same for every build: compare builds, with
 * `--a DIR` (another build's dist, as `bench:ab` takes it), whose rounds run in turns with this
 * build's. The ledger writer's thread has a heap of its own, not counted here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { BENCH_POLICY, DEVELOPER, median } from './harness.js';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    rounds: { type: 'string', default: '9' },
    requests: { type: 'string', default: '2000' },
    warm: { type: 'string', default: '40000' },
    /** Internal: measure the build in this dist directory and print its rounds as JSON. */
    child: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const requests = Number(values.requests);
const warm = Number(values.warm);
for (const [name, value] of Object.entries({ rounds, requests, warm })) {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} is a whole number ≥ 1`);
}
const CHILD_FLAGS = ['--expose-gc', '--no-minor-gc-task', '--min-semi-space-size=512', '--max-semi-space-size=512'];

interface Round {
  readonly bytesPerRequest: number;
  /** Collections during the round: a round with any is left out. */
  readonly collections: number;
}

if (values.child) {
  process.stdout.write(`${JSON.stringify(await measure(resolve(values.child)))}\n`);
  process.exit(0);
} else {
  const ownDist = resolve(fileURLToPath(import.meta.url), '../..');
  const builds = values.a
    ? [{ name: 'A', dist: resolve(values.a) }, { name: 'B', dist: ownDist }]
    : [{ name: 'this build', dist: ownDist }];
  const found = new Map<string, Round[]>(builds.map((build) => [build.name, []]));
  // Two turns each, A then B then A then B: a warmer machine or disk favours neither.
  for (let turn = 0; turn < 2; turn++) {
    for (const build of builds) {
      const child = spawnSync(
        process.execPath,
        [
          ...CHILD_FLAGS, fileURLToPath(import.meta.url), '--child', build.dist,
          '--rounds', String(Math.ceil(rounds / 2)), '--requests', String(requests), '--warm', String(warm),
        ],
        { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
      );
      if (child.status !== 0) throw new Error(`the measurement of ${build.dist} failed:\n${child.stderr}`);
      found.get(build.name)!.push(...(JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Round[]));
    }
  }
  const when = new Date().toISOString();
  console.log(`\nJavaScript heap allocated per Encrypt (1 KiB, 64 in flight; server and in-process client), ${when}`);
  console.log('| build | clean rounds | bytes per request, median | rounds |');
  console.log('|---|---|---|---|');
  const medians = new Map<string, number>();
  for (const build of builds) {
    const clean = found.get(build.name)!
      .filter((round) => round.collections === 0)
      .map((round) => round.bytesPerRequest);
    if (clean.length === 0) throw new Error(`no round of ${build.name} ran without a collection; try fewer --requests`);
    medians.set(build.name, median(clean));
    const cells = [`${build.name} (${build.dist})`, clean.length, Math.round(median(clean)), clean.join(' ')];
    console.log(`| ${cells.join(' | ')} |`);
  }
  if (values.a) console.log(`\nB − A: ${Math.round(medians.get('B')! - medians.get('A')!)} bytes per request`);
}

/** The rounds of one build, in this process: the service and its client side by side. */
async function measure(dist: string): Promise<Round[]> {
  const load = (path: string) => import(pathToFileURL(join(dist, path)).href);
  const { initDataDir, issueClientCertFiles } = await load('src/cli/init.js');
  const { configForDataDir } = await load('src/config.js');
  const { startService } = await load('src/main.js');
  const { KmsClient } = await load('src/transport/grpc/client.js');
  const { tuneGarbageCollection } = await load('src/cli/gc-tuning.js');
  tuneGarbageCollection();
  const root = mkdtempSync(join(tmpdir(), 'p11kms-alloc-'));
  try {
    const init = await initDataDir(root);
    const { config, layout } = configForDataDir(init.layout.root, init.softhsmLibrary);
    const service = await startService({ ...config, listen: '127.0.0.1:0' }, pino({ level: 'silent' }));
    const endpoint = `127.0.0.1:${service.port}`;
    const ca = readFileSync(layout.caCert);
    const admin = KmsClient.connect(endpoint, {
      caPem: ca, certPem: readFileSync(layout.adminCert), keyPem: readFileSync(layout.adminKey),
    });
    const developerFiles = await issueClientCertFiles(root, DEVELOPER);
    const developer = KmsClient.connect(endpoint, {
      caPem: ca, certPem: readFileSync(developerFiles.cert), keyPem: readFileSync(developerFiles.key),
    });
    try {
      const keyId = ((await admin.call('CreateKey', { policy: BENCH_POLICY })).keyMetadata as { keyId: string }).keyId;
      const request = { keyId, plaintext: Buffer.alloc(1024, 42), encryptionContext: { app: 'bench' } };
      const run = async (count: number) => {
        let left = count;
        await Promise.all(Array.from({ length: 64 }, async () => {
          while (left-- > 0) await developer.call('Encrypt', request);
        }));
      };
      await run(warm);
      let collections = 0;
      const observer = new PerformanceObserver((list) => void (collections += list.getEntries().length));
      observer.observe({ entryTypes: ['gc'] });
      const found: Round[] = [];
      for (let round = 0; round < rounds; round++) {
        (globalThis as { gc?: () => void }).gc?.();
        await new Promise((settle) => setTimeout(settle, 50)); // the observer reports that collection first
        collections = 0;
        const before = process.memoryUsage().heapUsed;
        await run(requests);
        const bytesPerRequest = Math.round((process.memoryUsage().heapUsed - before) / requests);
        await new Promise((settle) => setTimeout(settle, 0));
        found.push({ bytesPerRequest, collections });
      }
      observer.disconnect();
      return found;
    } finally {
      admin.close();
      developer.close();
      await service.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
