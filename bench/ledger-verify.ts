/**
 * The audit ledger's two costs, each against a same-run baseline:
 *  1. Offline verification of an N-entry export (default 1,000,000, a checkpoint every 1,000):
 *     reading the lines alone and reading + JSON.parse are the baselines; `verifyExport` adds
 *     RFC 8785 canonicalisation, SHA-256 and the checkpoint signatures.
 *  2. Requests per second through the real pipeline (Encrypt 1 KiB on a SoftHSM2 token, 64 in
 *     flight, --in-flight) with the LogAuditSink the service used before, and with the ledger (SQLite WAL,
 *     synchronous=FULL, group commit on a worker thread).
 *  3. The same with N entries stored in the ledger (at least 1,000 more than step 2 appended, so
 *     that a small N still has entries to list; the append rate should not change), and
 *     ListAuditEvents by key id (newest 50) and by a time window holding every entry (newest 50,
 *     and the 20th page of 50 oldest first) with a near-empty and with the full ledger.
 *   npm run bench:ledger [-- --entries 1000000] [-- --seconds 3] [-- --in-flight 64] [-- --no-requests]
 *     [-- --no-stored] (skip 3) [-- --batches-in-flight N] (the ledger's LedgerOptions.maxBatchesInFlight)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { pino } from 'pino';
import { Pkcs11Hsm } from '../src/adapters/pkcs11/pkcs11-hsm.js';
import { LogAuditSink } from '../src/adapters/log/log-audit-sink.js';
import { SqliteLedgerStore } from '../src/adapters/sql/sqlite-ledger.js';
import { SqliteMetadataStore } from '../src/adapters/sql/sqlite.js';
import { openAuditLedger } from '../src/audit/audit-ledger.js';
import { ChainBuilder } from '../src/audit/chain.js';
import { signCheckpoint } from '../src/audit/checkpoint.js';
import { formatCheckpointLine, formatEntryLine, readExportFile } from '../src/audit/export-format.js';
import { verifyExport } from '../src/audit/verify.js';
import { createKey, encrypt } from '../src/operations/index.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { PolicyAuthorizer } from '../src/pipeline/policy-authorizer.js';
import type { AuditSink } from '../src/ports/audit-sink.js';
import { systemClock } from '../src/ports/clock.js';
import { median } from './harness.js';
import { benchEvent as event } from './ledger-events.js';
import { softhsmConfiguration } from '../src/cli/init.js';

const argument = (name: string) => {
  const index = process.argv.indexOf(name);
  return index < 0 ? undefined : process.argv[index + 1];
};
const entries = Number(argument('--entries') ?? 1_000_000);
const seconds = Number(argument('--seconds') ?? 3);
const measureRequests = !process.argv.includes('--no-requests');
const inFlight = Number(argument('--in-flight') ?? 64);
const measureStored = !process.argv.includes('--no-stored');
const batchesInFlight = argument('--batches-in-flight') === undefined ? undefined : Number(argument('--batches-in-flight'));
const CHECKPOINT_EVERY = 1000;
const dir = mkdtempSync(join(tmpdir(), 'p11kms-bench-ledger-'));

// ---- 1. verification -------------------------------------------------------------------------

async function buildExport(file: string): Promise<{ publicKeyPem: string; ms: number }> {
  const started = performance.now();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = { sign: async (payload: Buffer) => sign('sha256', payload, { key: privateKey, dsaEncoding: 'der' }) };
  const out = createWriteStream(file);
  const chain = new ChainBuilder();
  let chunk: string[] = [];
  for (let seq = 1; seq <= entries; seq++) {
    const { canonical, hash } = chain.append(event(seq));
    chunk.push(formatEntryLine(canonical, hash));
    if (seq % CHECKPOINT_EVERY === 0 || seq === entries) {
      chunk.push(formatCheckpointLine(await signCheckpoint(signer, chain.head, new Date(Date.UTC(2026, 0, 2)))));
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
      chunk = [];
    }
  }
  out.end();
  await finished(out);
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, ms: performance.now() - started };
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - started) / 1000 };
}

const file = join(dir, 'export.jsonl');
const built = await buildExport(file);
const megabytes = statSync(file).size / 1e6;
console.log(`built an export of ${entries.toLocaleString('en')} entries (${megabytes.toFixed(0)} MB) in ${(built.ms / 1000).toFixed(1)} s`);

const readOnly = await timed(async () => {
  let lines = 0;
  for await (const _ of readExportFile(file)) lines++;
  return lines;
});
const parsed = await timed(async () => {
  let lines = 0;
  for await (const line of readExportFile(file)) if (JSON.parse(line)) lines++;
  return lines;
});
const verified = await timed(() => verifyExport(readExportFile(file), built.publicKeyPem));
if (!verified.result.ok || verified.result.entries !== entries) throw new Error(`verification failed: ${JSON.stringify(verified.result)}`);

// The command a compliance team runs, as a child process: start-up and output included.
const cliPath = join('dist', 'src', 'cli', 'main.js');
const pemFile = join(dir, 'audit.pem');
writeFileSync(pemFile, built.publicKeyPem);
const cliRun = existsSync(cliPath)
  ? await timed(async () => spawnSync(process.execPath, [cliPath, 'audit', 'verify', file, '--public-key', pemFile, '--no-progress'], { encoding: 'utf8' }))
  : undefined;
if (cliRun && cliRun.result.status !== 0) throw new Error(`p11kms audit verify failed: ${cliRun.result.stdout}${cliRun.result.stderr}`);

const verifyRows = [
  { step: 'read lines (baseline)', seconds: readOnly.seconds },
  { step: 'read + JSON.parse', seconds: parsed.seconds },
  { step: 'verifyExport (canonicalise, SHA-256 chain, checkpoint signatures)', seconds: verified.seconds },
  ...(cliRun ? [{ step: '`p11kms audit verify` (child process)', seconds: cliRun.seconds }] : []),
].map((row) => ({ ...row, entriesPerSecond: Math.round(entries / row.seconds) }));
console.log(`\nverify ${entries.toLocaleString('en')} entries, ${verified.result.checkpoints} checkpoints, ${new Date().toISOString()}`);
console.log('| step | seconds | entries/s | ratio to reading |');
console.log('|---|---|---|---|');
for (const row of verifyRows) {
  console.log(`| ${row.step} | ${row.seconds.toFixed(2)} | ${row.entriesPerSecond.toLocaleString('en')} | ${(row.seconds / readOnly.seconds).toFixed(2)} |`);
}

// ---- 2. requests per second with and without the ledger ---------------------------------------

interface RequestRow {
  readonly sink: string;
  readonly requestsPerSecond: number;
  readonly transactions?: number;
  readonly meanBatch?: number;
  readonly loopBusy?: number;
}
const requestRows: RequestRow[] = [];
const storedRows: Array<{ case: string; requestsPerSecond: number; listByKeyMs: number; listByTime: { newestMs: number; twentiethPageMs: number } }> = [];

if (measureRequests) {
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, softhsmConfiguration(tokenDir));
  process.env.SOFTHSM2_CONF = conf;
  const pin = randomBytes(8).toString('hex');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--so-pin', pin, '--pin', pin], { stdio: 'ignore' });
  const hsm = await Pkcs11Hsm.open({ libraryPath: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'bench', pin });
  const database = join(dir, 'p11kms.db');
  const store = SqliteMetadataStore.open(database);
  const ledgerStore = await SqliteLedgerStore.open(database);
  const silent = pino({ level: 'info' }, pino.destination('/dev/null'));
  const ledger = await openAuditLedger({
    store: ledgerStore, hsm, clock: systemClock, logger: silent, settings: { maxBatchesInFlight: batchesInFlight },
  });
  const logSink = new LogAuditSink(silent);

  const pipelineWith = (audit: AuditSink) => {
    const authorizer = new PolicyAuthorizer(store, 'aws');
    return new Pipeline({
      services: { hsm, store, policies: authorizer, clock: systemClock, location: { partition: 'aws', region: 'us-east-1' } },
      authorizer,
      trustsOnBehalfOf: () => false,
      audit,
      logger: silent,
      defaultAccount: '111122223333',
    });
  };
  let requestNumber = 0;
  const envelope = () => ({
    requestId: `bench-${requestNumber++}`,
    peerIdentities: ['arn:aws:iam::111122223333:root'],
    sourceAddress: 'ipv4:127.0.0.1:50000',
  });
  const setup = pipelineWith(logSink);
  const key = (await setup.execute<{ keyMetadata: { keyId: string } }>(createKey, {}, envelope())).keyMetadata.keyId;
  const plaintext = randomBytes(1024);

  // Requests per second, and how busy the event loop was meanwhile (0–1): a ledger that only adds
  // waiting leaves the loop idle, one that adds work keeps it busy.
  const loopBusy: Record<string, number[]> = { LogAuditSink: [], ledger: [] };
  const measure = async (audit: AuditSink, busy?: number[]): Promise<number> => {
    const pipeline = pipelineWith(audit);
    const utilization = performance.eventLoopUtilization();
    const deadline = performance.now() + seconds * 1000;
    let count = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          await pipeline.execute(encrypt, { keyId: key, plaintext, encryptionContext: { bench: 'ledger' } }, envelope());
          count++;
        }
      }),
    );
    busy?.push(performance.eventLoopUtilization(utilization).utilization);
    return Math.round(count / seconds);
  };
  // Alternate the two, twice, so that neither profits from a warmer cache or a quieter disk.
  const runs: Record<string, number[]> = { LogAuditSink: [], ledger: [] };
  let transactions = 0;
  let recorded = 0;
  for (let round = 0; round < 2; round++) {
    runs.LogAuditSink!.push(await measure(logSink, loopBusy.LogAuditSink));
    const before = { ...ledger.ledger.stats };
    runs.ledger!.push(await measure(ledger.ledger, loopBusy.ledger));
    transactions += ledger.ledger.stats.batches - before.batches;
    recorded += ledger.ledger.stats.entries - before.entries;
  }
  const best = (values: number[]) => Math.max(...values);
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  requestRows.push({ sink: 'LogAuditSink (pino → /dev/null)', requestsPerSecond: best(runs.LogAuditSink!), loopBusy: mean(loopBusy.LogAuditSink!) });
  requestRows.push({
    sink: 'ledger (SQLite WAL FULL, group commit)',
    requestsPerSecond: best(runs.ledger!),
    loopBusy: mean(loopBusy.ledger!),
    transactions,
    meanBatch: Math.round((recorded / transactions) * 10) / 10,
  });
  // ---- 3. the same ledger with 1,000,000 entries stored: append rate and ListAuditEvents by key ----
  // The stored entries name 1,000 keys in turn; listing one key's newest 50 entries is what an
  // auditor's ListAuditEvents --key-id does. Measured with the ledger near-empty and again after it.
  const account = '111122223333';
  const keyOf = (seq: number) => `00000000-0000-4000-8000-${(seq % 1000).toString().padStart(12, '0')}`;
  const listByKey = async (expectEntries: boolean): Promise<number> => {
    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      const page = await ledgerStore.listEntries({ account, keyId: keyOf(i), limit: 50, newestFirst: true });
      samples.push(performance.now() - started);
      if (expectEntries && page.items.length === 0) throw new Error('listing by key found nothing');
    }
    return median(samples);
  };
  // A time window holding every entry, stored (2026-01-01 onwards) and live (the clock's now).
  const wholeLedger = { startTime: new Date(Date.UTC(2026, 0, 1)), endTime: new Date(Date.now() + 86_400_000) };
  const listByTime = async (): Promise<{ newestMs: number; twentiethPageMs: number }> => {
    const newest: number[] = [];
    const deep: number[] = [];
    for (let i = 0; i < 50; i++) {
      let started = performance.now();
      await ledgerStore.listEntries({ account, ...wholeLedger, limit: 50, newestFirst: true });
      newest.push(performance.now() - started);
      let marker: string | undefined;
      for (let page = 0; page < 19; page++) {
        marker = (await ledgerStore.listEntries({ account, ...wholeLedger, limit: 50, marker })).nextMarker;
      }
      started = performance.now();
      await ledgerStore.listEntries({ account, ...wholeLedger, limit: 50, marker });
      deep.push(performance.now() - started);
    }
    return { newestMs: median(newest), twentiethPageMs: median(deep) };
  };
  if (measureStored) {
    const smallEntries = ledger.ledger.head.seq;
    const listSmall = await listByKey(false);
    const timeSmall = await listByTime();
    let head = ledger.ledger.head;
    await ledger.close(); // its final checkpoint, before the entries below move the head on
    const prefillStarted = performance.now();
    // The stored entries name keyOf(seq) in turn: at least 1,000 of them, so that every key
    // listed below has some, even when --entries is below what the requests above appended.
    const target = Math.max(entries, head.seq + 1000);
    while (head.seq < target) {
      const chain = new ChainBuilder(head);
      const batch = [];
      for (let i = 0; i < 5000 && head.seq + i < target; i++) {
        const seq = head.seq + i + 1;
        batch.push(chain.append({ ...event(seq), keyArns: [`arn:aws:kms:us-east-1:${account}:key/${keyOf(seq)}`] }));
      }
      await ledgerStore.appendEntries(head, batch);
      head = chain.head;
    }
    const storedEntries = head.seq;
    const prefillSeconds = (performance.now() - prefillStarted) / 1000;
    // The running ledger continues from the stored head, as after a restart.
    const big = await openAuditLedger({
      store: ledgerStore, hsm, clock: systemClock, logger: silent, settings: { maxBatchesInFlight: batchesInFlight },
    });
    const bigRates = [await measure(big.ledger), await measure(big.ledger)];
    const listBig = await listByKey(true);
    const timeBig = await listByTime();
    await big.close();
    storedRows.push(
      { case: `ledger with ${smallEntries.toLocaleString('en')} entries`, requestsPerSecond: Math.max(...runs.ledger!), listByKeyMs: listSmall, listByTime: timeSmall },
      { case: `ledger with ${storedEntries.toLocaleString('en')} entries (filled in ${prefillSeconds.toFixed(0)} s)`, requestsPerSecond: Math.max(...bigRates), listByKeyMs: listBig, listByTime: timeBig },
    );
  } else {
    await ledger.close();
  }

  console.log(`\nEncrypt 1 KiB through the pipeline, ${inFlight} in flight, ${seconds} s × 2 rounds each (best shown)`);
  console.log('| audit sink | requests/s | ratio to LogAuditSink | event loop busy | transactions | mean entries per transaction |');
  console.log('|---|---|---|---|---|---|');
  for (const row of requestRows) {
    console.log(
      `| ${row.sink} | ${row.requestsPerSecond.toLocaleString('en')} | ${(row.requestsPerSecond / requestRows[0]!.requestsPerSecond).toFixed(2)} | ${row.loopBusy === undefined ? '–' : `${(row.loopBusy * 100).toFixed(0)}%`} | ${row.transactions ?? '–'} | ${row.meanBatch ?? '–'} |`,
    );
  }
  if (storedRows.length > 0) {
    console.log('\n| stored ledger | Encrypt requests/s | ratio | ListAuditEvents, median ms: by key, newest 50 | by a time window of every entry, newest 50 | the same, 20th page oldest first |');
    console.log('|---|---|---|---|---|---|');
  }
  for (const row of storedRows) {
    console.log(`| ${row.case} | ${row.requestsPerSecond.toLocaleString('en')} | ${(row.requestsPerSecond / storedRows[0]!.requestsPerSecond).toFixed(2)} | ${row.listByKeyMs.toFixed(2)} | ${row.listByTime.newestMs.toFixed(2)} | ${row.listByTime.twentiethPageMs.toFixed(2)} |`);
  }
  await ledgerStore.close();
  await store.close();
  await hsm.close();
}

mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/ledger.json',
  JSON.stringify({ date: new Date().toISOString(), entries, checkpointEvery: CHECKPOINT_EVERY, verify: verifyRows, requests: requestRows, stored: storedRows }, null, 2),
);
// The export alone is ~700 MB per million entries.
rmSync(dir, { recursive: true, force: true });
