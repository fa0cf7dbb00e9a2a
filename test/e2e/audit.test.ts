import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CLI,
  cli,
  rawClient,
  requireBuild,
  startServer,
  tempDir,
  unary,
  type Credentials,
  type ServerProcess,
} from '../support/server-process.js';
import {
  adminCredentials,
  type Answer,
  callForAnswer,
  exportAndKey,
  exportEntries,
  KNOWN_PLAINTEXT,
  type LoadRequest,
  mixedRequest,
  outsiderCredentials,
  verifyWithCli,
} from './audit-load.js';

const AUDIT_SERVICE = 'p11kms.v1.AuditService';
const AUDIT_PROTO = 'p11kms/v1/audit.proto';

const LOAD_REQUESTS = 3000;
const ADMIN_CLIENTS = 4;
const IN_FLIGHT_PER_CLIENT = 16;

let dataDir: string;
let server: ServerProcess;
let admins: any[];
let outsider: any;
let outsiderCreds: Credentials;
let audit: any;
let key: { keyId: string; arn: string; ciphertext: Buffer };
/** Every request the clients made, by the request id the server answered with. */
const answered = new Map<string, Answer & { expected: string }>();
let unanswered = 0;

beforeAll(async () => {
  requireBuild();
  dataDir = tempDir('p11kms-audit-e2e-');
  cli(['init', '--data-dir', dataDir]);
  outsiderCreds = outsiderCredentials(dataDir);
  server = await startServer(['--data-dir', dataDir, '--access-log'], {
    ...process.env,
    P11KMS_LEDGER_CHECKPOINT_EVERY: '250',
    P11KMS_LEDGER_CHECKPOINT_SECONDS: '0.5',
  });
  const admin = adminCredentials(dataDir);
  admins = Array.from({ length: ADMIN_CLIENTS }, () => rawClient(server.address, admin));
  outsider = rawClient(server.address, outsiderCreds);
  audit = rawClient(server.address, admin, AUDIT_PROTO, AUDIT_SERVICE);

  const created = await callForAnswer(admins[0], 'CreateKey', { description: 'audit e2e' });
  const encrypted = await callForAnswer(admins[0], 'Encrypt', {
    key_id: created.response.key_metadata.key_id,
    plaintext: Buffer.from(KNOWN_PLAINTEXT),
  });
  key = { keyId: created.response.key_metadata.key_id, arn: created.response.key_metadata.arn, ciphertext: encrypted.response.ciphertext_blob };
  for (const setup of [created, encrypted]) answered.set(setup.requestId!, { ...setup, expected: 'Success' });
});

afterAll(async () => {
  for (const client of [...(admins ?? []), outsider, audit]) client?.close();
  await server?.stop();
});

/** Several clients, each with requests in flight, draw from one queue of mixed requests. */
async function fireMixedLoad(count: number): Promise<void> {
  const queue: LoadRequest[] = Array.from({ length: count }, (_, i) => mixedRequest(i, key));
  let next = 0;
  const worker = async (client: number) => {
    for (let i = next++; i < queue.length; i = next++) {
      const { client: who, method, request, expected } = queue[i]!;
      const answer = await callForAnswer(who === 'outsider' ? outsider : admins[client % admins.length], method, request);
      if (answer.requestId === undefined) unanswered++;
      else answered.set(answer.requestId, { ...answer, expected });
    }
  };
  await Promise.all(Array.from({ length: ADMIN_CLIENTS * IN_FLIGHT_PER_CLIENT }, (_, i) => worker(i)));
}

describe('the audit ledger behind a running server', () => {
  it(`answers ${LOAD_REQUESTS} mixed concurrent requests from several clients, each as expected`, async () => {
    const started = Date.now();
    await fireMixedLoad(LOAD_REQUESTS);
    const seconds = (Date.now() - started) / 1000;
    expect(unanswered).toBe(0);
    expect(answered.size).toBe(LOAD_REQUESTS + 2);
    const wrong = [...answered.values()].filter((a) => a.outcome !== a.expected);
    expect(wrong).toEqual([]);
    const outcomes = new Set([...answered.values()].map((a) => a.outcome));
    expect(outcomes).toEqual(new Set(['Success', 'AccessDeniedException', 'ValidationException']));
    console.log(`audit e2e: ${LOAD_REQUESTS} requests in ${seconds.toFixed(1)} s (${Math.round(LOAD_REQUESTS / seconds)}/s)`);
  });

  it('serves the AuditService: health, reflection and GetKeyLastUsage', async () => {
    const health = rawClient(server.address, adminCredentials(dataDir), 'health/v1/health.proto', 'grpc.health.v1.Health', [
      resolve('node_modules/grpc-health-check/proto'),
    ]);
    expect((await unary(health, 'Check', { service: AUDIT_SERVICE })).response.status).toBe('SERVING');
    health.close();
    const reflection = rawClient(server.address, adminCredentials(dataDir), 'grpc/reflection/v1/reflection.proto', 'grpc.reflection.v1.ServerReflection', [
      resolve('node_modules/@grpc/reflection/build/proto'),
    ]);
    const services = await new Promise<string[]>((resolvePromise, reject) => {
      const call = reflection.ServerReflectionInfo();
      call.on('data', (message: any) => {
        resolvePromise(message.list_services_response.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    expect(services).toEqual(expect.arrayContaining(['p11kms.v1.KeyManagementService', AUDIT_SERVICE]));
    reflection.close();

    const usage = await unary(audit, 'GetKeyLastUsage', { key_id: key.arn });
    expect(usage.error).toBeUndefined();
    expect(usage.response.key_id).toBe(key.arn);
    expect(['Encrypt', 'Decrypt', 'GenerateDataKey']).toContain(usage.response.key_last_usage.operation);
    const outsiderAudit = rawClient(server.address, outsiderCreds, AUDIT_PROTO, AUDIT_SERVICE);
    const denied = await unary(outsiderAudit, 'GetKeyLastUsage', { key_id: key.arn });
    expect(denied.error?.metadata.get('kms-error-type')[0]?.toString()).toBe('AccessDeniedException');
    outsiderAudit.close();
  });

  it('answers ListAuditEvents, GetLedgerHead and GetAuditPublicKey over gRPC', async () => {
    const head = await unary(audit, 'GetLedgerHead', {});
    expect(Number(head.response.seq)).toBeGreaterThanOrEqual(LOAD_REQUESTS);
    const denials = await unary(audit, 'ListAuditEvents', { key_id: key.arn, outcome: 'AccessDeniedException', limit: 1000 });
    expect(denials.response.events.length).toBeGreaterThan(0);
    expect(denials.response.events.every((e: any) => e.outcome === 'AccessDeniedException')).toBe(true);

    // A time window, 50 at a time, newest first: each of its entries once, in (time, seq) order.
    const pages = async (request: object, limit: number): Promise<any[]> => {
      const events: any[] = [];
      let marker = '';
      do {
        const page = await unary(audit, 'ListAuditEvents', { ...request, limit, marker });
        expect(page.error).toBeUndefined();
        events.push(...page.response.events);
        marker = page.response.next_marker;
      } while (marker);
      return events;
    };
    const millis = (time: any) => Number(time.seconds) * 1000 + Math.round(time.nanos / 1e6);
    const timestamp = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
    const all = await pages({}, 1000);
    const [from, to] = [millis(all[Math.floor(all.length / 3)].time), millis(all[Math.floor((2 * all.length) / 3)].time)];
    const inWindow = all
      .filter((e) => millis(e.time) >= from && millis(e.time) <= to)
      .sort((a, b) => millis(b.time) - millis(a.time) || Number(b.seq) - Number(a.seq));
    expect(inWindow.length).toBeGreaterThan(LOAD_REQUESTS / 4);
    const windowed = await pages({ start_time: timestamp(from), end_time: timestamp(to), newest_first: true }, 50);
    expect(windowed.map((e) => Number(e.seq))).toEqual(inWindow.map((e) => Number(e.seq)));
    const publicKey = await unary(audit, 'GetAuditPublicKey', {});
    expect(publicKey.response.public_key_pem).toContain('BEGIN PUBLIC KEY');
  });

  it('exports a valid, contiguous chain holding exactly one entry per request (after a clean stop)', async () => {
    expect(await server.stop()).toBe(0);
    const files = exportAndKey(dataDir);
    const { status, report } = verifyWithCli(files);
    expect(report).toMatchObject({ ok: true, firstBadSeq: null });
    expect(status).toBe(0);
    // The final checkpoint, signed on shutdown, vouches for the whole chain.
    expect(report.verifiedThrough).toBe(report.entries);
    expect(report.checkpoints).toBeGreaterThanOrEqual(Math.floor(report.entries / 250));

    const entries = exportEntries(files.exportFile);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    const requestEntries = entries.filter((e) => e.kind === 'request');
    const byRequest = new Map<string, Array<Record<string, any>>>();
    for (const entry of requestEntries) byRequest.set(entry.requestId, [...(byRequest.get(entry.requestId) ?? []), entry]);
    // Every answered request has exactly one entry, with the outcome the client saw …
    for (const [requestId, answer] of answered) {
      const found = byRequest.get(requestId) ?? [];
      expect(found, `entries of ${requestId}`).toHaveLength(1);
      expect(found[0]!.outcome).toBe(answer.outcome);
    }
    // … and there is no entry for anything else but the audit reads this test made.
    const others = requestEntries.filter((e) => !answered.has(e.requestId));
    expect(others.every((e) => ['GetKeyLastUsage', 'GetLedgerHead', 'ListAuditEvents', 'GetAuditPublicKey'].includes(e.operation))).toBe(
      true,
    );
    expect(requestEntries.filter((e) => e.outcome === 'AccessDeniedException').every((e) => e.decision?.allowed === false)).toBe(true);
  });

  it('shows a progress bar on stderr when asked', () => {
    const files = exportAndKey(dataDir);
    const result = verifyWithCli(files);
    expect(result.status).toBe(0);
    const withBar = cliVerifyWithProgress(files.exportFile, files.publicKeyFile);
    expect(withBar.stderr).toMatch(/verifying \[[#.]+\]\s+\d+%/);
  });

  it('never wrote the plaintext to the database, its WAL, the export or the server log', () => {
    const needles = [KNOWN_PLAINTEXT, Buffer.from(KNOWN_PLAINTEXT).toString('base64')];
    const files = readdirSync(dataDir).filter((name) => name.startsWith('p11kms.db') || name.endsWith('.jsonl'));
    expect(files).toContain('p11kms.db');
    for (const name of files) {
      const bytes = readFileSync(join(dataDir, name));
      for (const needle of needles) expect(bytes.includes(needle), `${needle} in ${name}`).toBe(false);
    }
    const printed = server.output();
    expect(printed).toContain('"operation":"Decrypt"');
    for (const needle of needles) expect(printed).not.toContain(needle);
  });
});

function cliVerifyWithProgress(exportFile: string, publicKeyFile: string): { stderr: string } {
  // The bar is redrawn every 10,000 entries and once at the end, so even this export shows it.
  const result = spawnSync(process.execPath, [CLI, 'audit', 'verify', exportFile, '--public-key', publicKeyFile, '--progress'], {
    encoding: 'utf8',
  });
  return { stderr: result.stderr };
}
