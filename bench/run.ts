/**
 * `npm run bench [-- --quick]`: the service against its physical limits, measured in one run.
 *
 * A real server (mTLS, the SoftHSM2 token, SQLite, the ledger, a key policy naming the caller)
 * runs in its own process; a load generator in another process keeps N calls in flight. Baselines
 * from the same run: a no-op gRPC server with the same TLS and message sizes (bench/noop-server.ts),
 * raw pkcs11js on the same token (bench/raw-token.ts), and the floor server (bench/floor-server.ts):
 * the no-op server plus only the token call and a durable chained append per Encrypt, the least
 * any server keeping custody and audit before answer does; and the full floor
 * (bench/floor-full-server.ts): the floor plus the rest of what the issues require per Encrypt
 * (caller, validation, policy decision, encryption context, blob, full audit entry through the
 * ledger and its indexes, request id), in straight-line code, with p11kms's own functions. Prints
 * a table and writes JSON.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadOnce, median, middle, startBenchProcess, startBenchService, startFloorServer, startFullFloorServer, startNoopServer, wire } from './harness.js';
import { RAW } from './raw-names.js';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 2 : 5;
const WARMUP = quick ? 0.5 : 1;
/** How long each server carries load before the first cell, unmeasured. */
const WARMUP_SECONDS = quick ? 1 : 5;
const CONCURRENCY = quick ? [16] : [1, 16, 64];
const SCALE_KEYS = quick ? 200 : 10_000;
/** How often each pair of cells behind a target is measured in turns (odd: the median is one round). */
const ROUNDS = quick ? 3 : 5;
/** The full floor server's cell (bench/floor-full-server.ts). */
const FULL_FLOOR = "full floor Encrypt (what the issues require, straight-line, with p11kms's own code), in turns";

interface Row {
  operation: string;
  concurrency: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  clientCpuUsPerRequest?: number;
  loopP99Ms?: number;
  rssMiB?: number;
  baseline?: string;
  ratio?: number;
  note?: string;
}

/** One load run against a server process, with its CPU time and (for p11kms) the probe's numbers. */
async function measure(server: { pid: number; address: string; probe?: string }, credentials: { ca: string; cert: string; key: string }, rpc: string, requests: unknown[], concurrency: number, warmupRequests = 0) {
  if (server.probe) process.kill(server.pid, 'SIGUSR2'); // start a fresh probe window
  const result = await loadOnce({ address: server.address, ...credentials, rpc, requests, concurrency, seconds: SECONDS, warmupSeconds: WARMUP, warmupRequests, serverPid: server.pid });
  let probe: { p99Ms: number; rssBytes: number } | undefined;
  if (server.probe) {
    process.kill(server.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 100));
    probe = JSON.parse(readFileSync(server.probe, 'utf8'));
  }
  // The server's CPU over the measured window (the load generator reads it), warm-up excluded.
  return { result, cpuUsPerRequest: result.serverCpuUsPerRequest ?? NaN, probe };
}

async function main(): Promise<void> {
  const probeFile = join(tmpdir(), `p11kms-bench-probe-${process.pid}.json`);
  const service = await startBenchService({ nodeArgs: ['--import', resolve('dist/bench/loop-probe.js')], env: { P11KMS_BENCH_PROBE: probeFile } });
  const { dataDir, developer, call, createKey } = service;
  const kms = { pid: service.server.pid!, address: service.address, probe: probeFile };
  // The no-op server idles beside p11kms, so that the pairs below can be measured in turns.
  // It carries the loop probe too: its event-loop delay under the same load is the floor for p11kms's.
  const noopProbe = join(tmpdir(), `p11kms-bench-noop-probe-${process.pid}.json`);
  const noop = await startNoopServer(service, { nodeArgs: ['--import', resolve('dist/bench/loop-probe.js')], env: { P11KMS_BENCH_PROBE: noopProbe } });
  const noopServer = { pid: noop.pid, address: noop.address, probe: noopProbe };
  const symmetric = await createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
  const context = { app: 'bench' };
  const plaintext = Buffer.alloc(1024, 42);
  const sealed = (await call('Encrypt', { key_id: symmetric, plaintext, encryption_context: context })).ciphertext_blob as Buffer;
  const encryptWith = (ids: string[]) => ids.map((key_id) => wire({ key_id, plaintext, encryption_context: context }));
  const one = encryptWith([symmetric]);
  // A fresh process is still compiling its hot paths and growing its heap, and whichever cell
  // comes first would measure that too (the first Encrypt@16 cell after start had p99/p50 of
  // 3.61–4.43 on six fresh servers, the three after it 2.98–4.70, median 3.45: bench/FINDINGS.md).
  // So both servers first carry the load unmeasured, as every later cell's server already has.
  for (const [server, concurrency] of [[kms, 16], [kms, 64], [noopServer, 64]] as const) {
    await loadOnce({ address: server.address, ...developer, rpc: 'Encrypt', requests: one, concurrency, seconds: WARMUP_SECONDS, warmupSeconds: 0 });
  }

  const cases: Array<{ operation: string; rpc: string; requests: () => Promise<object[]>; baseline?: string }> = [
    { operation: 'Encrypt 1 KiB', rpc: 'Encrypt', requests: async () => [{ key_id: symmetric, plaintext, encryption_context: context }], baseline: 'noop Encrypt' },
    { operation: 'Decrypt 1 KiB', rpc: 'Decrypt', requests: async () => [{ ciphertext_blob: sealed, encryption_context: context }], baseline: 'noop Decrypt' },
    { operation: 'GenerateDataKey AES_256', rpc: 'GenerateDataKey', requests: async () => [{ key_id: symmetric, key_spec: 'DATA_KEY_SPEC_AES_256', encryption_context: context }], baseline: 'raw GenerateDataKey' },
    { operation: 'ReEncrypt', rpc: 'ReEncrypt', requests: async () => [{ ciphertext_blob: sealed, source_encryption_context: context, destination_key_id: symmetric, destination_encryption_context: context }], baseline: 'raw ReEncrypt' },
  ];
  const asymmetric: Array<[string, string, string]> = [
    ['RSA-2048', 'RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256'],
    ['ECDSA P-256', 'ECC_NIST_P256', 'ECDSA_SHA_256'],
  ];
  for (const [name, spec, algorithm] of asymmetric) {
    const signing = async () => ({ key_id: await createKey(spec, 'SIGN_VERIFY'), message: plaintext, message_type: 'MESSAGE_TYPE_RAW', signing_algorithm: `SIGNING_ALGORITHM_SPEC_${algorithm}` });
    cases.push({ operation: `Sign ${name}`, rpc: 'Sign', baseline: `raw ${name} sign`, requests: async () => [await signing()] });
    // The service verifies with the token's public-key object, as raw C_VerifyAsync does: one signature, verified over and over.
    cases.push({
      operation: `Verify ${name}`,
      rpc: 'Verify',
      baseline: `raw ${name} verify`,
      requests: async () => {
        const request = await signing();
        return [{ ...request, signature: (await call('Sign', request)).signature as Buffer }];
      },
    });
  }
  cases.push({
    operation: 'GenerateMac HMAC_256',
    rpc: 'GenerateMac',
    baseline: 'raw HMAC',
    requests: async () => [{ key_id: await createKey('HMAC_256', 'GENERATE_VERIFY_MAC'), message: plaintext, mac_algorithm: 'MAC_ALGORITHM_SPEC_HMAC_SHA_256' }],
  });

  const rows: Row[] = [];
  for (const bench of cases) {
    let requests: object[];
    try {
      requests = await bench.requests();
    } catch (error) {
      rows.push({ operation: bench.operation, concurrency: 0, rps: 0, p50Ms: 0, p99Ms: 0, cpuUsPerRequest: 0, note: `not run: ${(error as Error).message.split('\n')[0]}` });
      continue;
    }
    for (const concurrency of CONCURRENCY) {
      const { result, cpuUsPerRequest, probe: p } = await measure(kms, developer, bench.rpc, requests.map(wire), concurrency);
      rows.push({
        operation: bench.operation, concurrency, rps: result.rps, p50Ms: result.p50Ms, p99Ms: result.p99Ms, cpuUsPerRequest, clientCpuUsPerRequest: result.clientCpuUsPerRequest,
        loopP99Ms: p?.p99Ms, rssMiB: p ? p.rssBytes / 2 ** 20 : undefined, baseline: bench.baseline,
        note: result.errors ? `${result.errors} errors, e.g. ${result.firstError}` : undefined,
      });
    }
  }

  // The machine's speed drifts by ±20% from one minute to the next (it is shared), so the cells
  // that a target compares are measured in turns, ROUNDS times, and the target is the median of
  // the per-round ratios: a fast or slow spell moves one round, not the result. The table shows
  // each cell's median round.
  const inTurns = async (cells: ReadonlyArray<readonly [string, { pid: number; address: string; probe?: string }, unknown[]]>): Promise<Record<string, Row[]>> => {
    const rounds: Record<string, Row[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [label, server, requests] of cells) {
        // Every request is sent twice before the window opens (with 10,000 keys that is ~8 s).
        const { result, cpuUsPerRequest, probe: p } = await measure(server, developer, 'Encrypt', requests, 64, 2 * requests.length);
        (rounds[label] ??= []).push({ operation: label, concurrency: 64, rps: result.rps, p50Ms: result.p50Ms, p99Ms: result.p99Ms, cpuUsPerRequest, clientCpuUsPerRequest: result.clientCpuUsPerRequest, loopP99Ms: p?.p99Ms, rssMiB: p ? p.rssBytes / 2 ** 20 : undefined });
      }
    }
    for (const measured of Object.values(rounds)) rows.push(middle(measured, (row) => row.rps));
    return rounds;
  };
  // The ledger's cost end to end, and the no-op server, in turns with the real server: the same
  // Encrypt load against a bench-only server on the same data dir whose requests go to a log sink
  // instead of the ledger, and against the no-op server.
  const withoutLedger = await startBenchProcess('server-without-ledger.js', ['--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  const floor = await startFloorServer(service);
  const fullFloor = await startFullFloorServer(service);
  const pairCells = await inTurns([
    ['Encrypt 1 KiB, in turns with the next four rows', kms, one],
    ['Encrypt 1 KiB, bench-only server without the ledger', withoutLedger, one],
    ['noop Encrypt, in turns', noopServer, one],
    ['floor Encrypt (the token call and a durable chained append only), in turns', floor, one],
    [FULL_FLOOR, fullFloor, one],
  ]);
  await withoutLedger.stop();
  await floor.stop();
  await fullFloor.stop();

  // Scale: the same Encrypt load over 10 keys and over SCALE_KEYS keys. Last, because the keys'
  // working copies are remade in the background for a minute or two after they were last used.
  const keys = [symmetric];
  while (keys.length < SCALE_KEYS) keys.push(await createKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT'));
  const scaleCells = await inTurns([
    ['Encrypt 1 KiB, 10 keys', kms, encryptWith(keys.slice(0, 10))],
    [`Encrypt 1 KiB, ${SCALE_KEYS} keys`, kms, encryptWith(keys)],
  ]);

  await service.stop();

  // Baselines, with the server stopped so they have the machine to themselves.
  const baselines: Record<string, { rps: number; p50Ms: number; p99Ms: number; cpuUsPerRequest: number; clientCpuUsPerRequest: number; concurrency: number; loopP99Ms?: number }> = {};
  for (const [name, rpc, request] of [['noop Encrypt', 'Encrypt', { key_id: symmetric, plaintext, encryption_context: context }], ['noop Decrypt', 'Decrypt', { ciphertext_blob: sealed }]] as const) {
    for (const concurrency of CONCURRENCY) {
      const { result, cpuUsPerRequest, probe: p } = await measure(noopServer, developer, rpc, [wire(request)], concurrency);
      baselines[`${name}@${concurrency}`] = { rps: result.rps, p50Ms: result.p50Ms, p99Ms: result.p99Ms, cpuUsPerRequest, clientCpuUsPerRequest: result.clientCpuUsPerRequest, concurrency, loopP99Ms: p?.p99Ms };
    }
  }
  await noop.stop();
  const { opsPerSecond: raw, cpuUsPerOp: rawCpu } = JSON.parse(
    spawnSync(process.execPath, [resolve('dist/bench/raw-token.js'), '/usr/lib/softhsm/libsofthsm2.so', 'p11kms', join(dataDir, 'pin'), String(SECONDS)], {
      env: { ...process.env, SOFTHSM2_CONF: join(dataDir, 'softhsm2.conf') },
      encoding: 'utf8',
    }).stdout,
  ) as { opsPerSecond: Record<string, number>; cpuUsPerOp: Record<string, number> };
  rmSync(dataDir, { recursive: true, force: true });
  for (const probe of [probeFile, noopProbe]) rmSync(probe, { force: true });
  const rawFor: Record<string, number | undefined> = {
    'raw GenerateDataKey': raw[RAW.generateDataKey],
    'raw ReEncrypt': raw[RAW.reEncrypt],
    'raw RSA-2048 sign': raw[RAW.rsaSign],
    'raw RSA-2048 verify': raw[RAW.rsaVerify],
    'raw ECDSA P-256 sign': raw[RAW.ecdsaSign],
    'raw ECDSA P-256 verify': raw[RAW.ecdsaVerify],
    'raw HMAC': raw[RAW.hmac],
  };
  for (const row of rows) {
    if (!row.baseline) continue;
    const noopBase = baselines[`${row.baseline}@${row.concurrency}`];
    const base = noopBase?.rps ?? rawFor[row.baseline];
    if (base) row.ratio = row.rps / base;
  }

  const date = new Date().toISOString();
  const table = [
    `p11kms bench${quick ? ' (quick)' : ''} — ${date}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${SECONDS}s per cell`,
    '',
    '| operation | in flight | req/s | p50 ms | p99 ms | server CPU µs/req | client CPU µs/req | loop p99 ms | RSS MiB | baseline | ratio |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) =>
      r.note?.startsWith('not run')
        ? `| ${r.operation} | – | – | – | – | – | – | – | – | – | ${r.note} |`
        : `| ${r.operation} | ${r.concurrency} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.cpuUsPerRequest.toFixed(0)} | ${r.clientCpuUsPerRequest?.toFixed(0) ?? '–'} | ${r.loopP99Ms?.toFixed(2) ?? '–'} | ${r.rssMiB?.toFixed(0) ?? '–'} | ${r.baseline ?? '–'} | ${r.ratio?.toFixed(2) ?? '–'}${r.note ? ` (${r.note})` : ''} |`,
    ),
    '',
    '| baseline | in flight | req/s | p50 ms | p99 ms | server CPU µs/req | client CPU µs/req | loop p99 ms |',
    '|---|---|---|---|---|---|---|---|',
    ...Object.entries(baselines).map(([name, b]) => `| ${name.split('@')[0]} | ${b.concurrency} | ${b.rps.toFixed(0)} | ${b.p50Ms.toFixed(2)} | ${b.p99Ms.toFixed(2)} | ${b.cpuUsPerRequest.toFixed(0)} | ${b.clientCpuUsPerRequest.toFixed(0)} | ${b.loopP99Ms?.toFixed(2) ?? '–'} |`),
    ...Object.entries(raw).map(([name, ops]) => `| raw pkcs11js: ${name} | – | ${ops} | – | – | ${rawCpu[name] ?? '–'} (whole process) | – | – |`),
  ];
  const scale10 = scaleCells['Encrypt 1 KiB, 10 keys'];
  const scaleMany = scaleCells[`Encrypt 1 KiB, ${SCALE_KEYS} keys`];
  // What 2 cores allow for RSA Sign through any gRPC service, from this run's own numbers: each
  // request costs at least the raw token's CPU per signature, the client's CPU per Sign call, and
  // the no-op server's CPU per call; all three share the machine's cores.
  const sign16 = rows.find((r) => r.operation === 'Sign RSA-2048' && r.concurrency === 16);
  const rawRsa = RAW.rsaSign;
  const noop16 = baselines['noop Encrypt@16'];
  const rsaFloorUs = rawCpu[rawRsa] !== undefined && sign16?.clientCpuUsPerRequest !== undefined && noop16
    ? rawCpu[rawRsa] + sign16.clientCpuUsPerRequest + noop16.cpuUsPerRequest
    : undefined;
  const rsaCeiling = rsaFloorUs && raw[rawRsa] ? (cpus().length * 1e6) / rsaFloorUs / raw[rawRsa] : undefined;
  const pairOn = pairCells['Encrypt 1 KiB, in turns with the next four rows'];
  const ledgerOff = pairCells['Encrypt 1 KiB, bench-only server without the ledger'];
  const noopInTurns = pairCells['noop Encrypt, in turns'];
  const floorInTurns = pairCells['floor Encrypt (the token call and a durable chained append only), in turns'];
  const fullFloorInTurns = pairCells[FULL_FLOOR];
  const inTurnsTargets: Array<readonly [string, Row[] | undefined, Row[] | undefined, (row: Row) => number]> = [
    ['Encrypt@64 / noop@64, in turns (target ≥ 0.80)', pairOn, noopInTurns, (row) => row.rps],
    ['floor Encrypt@64 / noop@64, in turns: the most custody and audit before answer allow here', floorInTurns, noopInTurns, (row) => row.rps],
    ['Encrypt@64 / floor Encrypt@64, in turns', pairOn, floorInTurns, (row) => row.rps],
    ['Encrypt@64 CPU / noop CPU, in turns (target ≤ 2)', pairOn, noopInTurns, (row) => row.cpuUsPerRequest],
    ['floor Encrypt@64 CPU / noop CPU, in turns', floorInTurns, noopInTurns, (row) => row.cpuUsPerRequest],
    ['full floor Encrypt@64 CPU / noop CPU, in turns: what the required work alone costs', fullFloorInTurns, noopInTurns, (row) => row.cpuUsPerRequest],
    ['Encrypt@64 CPU / full floor CPU, in turns: what p11kms adds to the required work', pairOn, fullFloorInTurns, (row) => row.cpuUsPerRequest],
    ['full floor Encrypt@64 / noop@64, in turns', fullFloorInTurns, noopInTurns, (row) => row.rps],
    ['Encrypt@64, ledger on / bench-only server without it, in turns (target ≥ 0.90)', pairOn, ledgerOff, (row) => row.rps],
    [`${SCALE_KEYS} keys / 10 keys, in turns (target ≥ 0.95)`, scaleMany, scale10, (row) => row.rps],
  ];
  /** The largest p99 / p50 among the cells at 16 in flight. */
  const worstTailAt16 = (cells: ReadonlyArray<{ concurrency: number; p50Ms: number; p99Ms: number }>) =>
    Math.max(...cells.filter((cell) => cell.concurrency === 16).map((cell) => cell.p99Ms / cell.p50Ms));
  const targetRounds: Record<string, number[]> = {};
  for (const [name, a, b, of] of inTurnsTargets) if (a && b) targetRounds[name] = a.map((row, i) => of(row) / of(b[i]!));
  const targets: Record<string, number | undefined> = {
    ...Object.fromEntries(inTurnsTargets.map(([name]) => [name, targetRounds[name] && median(targetRounds[name])])),
    'RSA Sign@16 / raw async (target ≥ 0.80)': sign16?.ratio,
    [`RSA Sign@16 / raw async: the most ${cpus().length} cores allow (raw + client + noop server CPU per request)`]: rsaCeiling,
    'worst loop p99 ms (target ≤ 5)': Math.max(...rows.filter((r) => !r.operation.startsWith('noop')).map((r) => r.loopP99Ms ?? 0)),
    'worst loop p99 ms of the no-op server, same loads (its floor here)': Math.max(
      ...Object.values(baselines).map((b) => b.loopP99Ms ?? 0),
      ...rows.filter((r) => r.operation.startsWith('noop')).map((r) => r.loopP99Ms ?? 0),
    ),
    'worst p99/p50 at 16 in flight (target ≤ 4)': worstTailAt16(rows),
    // The same ratio for a server whose handlers only answer, under the same Encrypt and Decrypt
    // loads: what gRPC over mTLS and the load generator on these cores show by themselves.
    'worst p99/p50 at 16 in flight of the no-op server, same loads (its floor here)': worstTailAt16(Object.values(baselines)),
  };
  table.push(
    '',
    '| target | value | per round (in turns; the value is their median) |',
    '|---|---|---|',
    ...Object.entries(targets).map(([k, v]) => `| ${k} | ${v === undefined ? 'not measured' : v.toFixed(2)} | ${targetRounds[k]?.map((r) => r.toFixed(2)).join(' ') ?? '–'} |`),
  );
  process.stdout.write(`${table.join('\n')}\n`);
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/bench-${date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ date, quick, seconds: SECONDS, rounds: ROUNDS, rows, baselines, raw, rawCpu, targets, targetRounds }, null, 2));
  process.stdout.write(`\nresults: ${file}\n`);
  if (!existsSync(file)) process.exitCode = 1;
}

await main();
