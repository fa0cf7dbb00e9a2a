import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirLayout } from '../../src/cli/data-dir.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { CLI, cli, type Credentials, rawClient, requireBuild, startServer, tempDir, type ServerProcess } from '../support/server-process.js';
import { type Answer, callForAnswer } from './audit-load.js';

/**
 * Issue 7: three `p11kms serve` processes on one PostgreSQL (the harness's own) and one SoftHSM2
 * token directory, talking to clients over mTLS — a key made on one works on the others at once,
 * disabling/deleting/re-policing a key reaches every replica within the cache's bound, the
 * scheduler runs once, the ledger stays one chain, and the service survives a SIGKILLed replica
 * and a PostgreSQL outage.
 */
const BOUND_MS = 1000;

let postgres: TestPostgres;
let url: string;
let dataDir: string;
let credentials: Credentials;
const replicas: ServerProcess[] = [];
const clients: any[] = [];
const acknowledged = new Set<string>();
const env = {
  ...process.env,
  P11KMS_SCHEDULER_INTERVAL_SECONDS: '1',
  P11KMS_LEADER_POLL_SECONDS: '0.5',
  P11KMS_LEDGER_CHECKPOINT_SECONDS: '1',
};

async function startReplica(): Promise<number> {
  const server = await startServer(['--data-dir', dataDir, '--store', url], env);
  replicas.push(server);
  clients.push(rawClient(server.address, credentials));
  return replicas.length - 1;
}

/** A call whose success is remembered by request id: everything acknowledged must be in the ledger. */
async function call(replica: number, method: string, request: object, timeoutMs = 15_000): Promise<Answer> {
  const answer = await callForAnswer(clients[replica], method, request, timeoutMs);
  if (answer.requestId && answer.outcome !== 'grpc-14' && answer.outcome !== 'grpc-4') acknowledged.add(answer.requestId);
  return answer;
}

async function createKey(replica = 0): Promise<string> {
  const answer = await call(replica, 'CreateKey', { description: 'replicas' });
  expect(answer.outcome).toBe('Success');
  return answer.response.key_metadata.key_id as string;
}

const encrypt = (replica: number, keyId: string) => call(replica, 'Encrypt', { key_id: keyId, plaintext: Buffer.from('replicated') });

/** Time from `change` answering on replica 0 until every other replica answers `expected` for `probe`. */
async function propagation(change: () => Promise<Answer>, probe: (replica: number) => Promise<Answer>, expected: string): Promise<number[]> {
  const changed = await change();
  expect(changed.outcome).toBe('Success');
  const start = performance.now();
  return Promise.all(
    replicas.slice(1).map(async (_, index) => {
      for (;;) {
        const answer = await probe(index + 1);
        if (answer.outcome === expected) return performance.now() - start;
        expect(answer.outcome).toBe('Success'); // the old answer until the change arrives, nothing else
        if (performance.now() - start > 5 * BOUND_MS) throw new Error(`replica ${index + 1} still answers ${answer.outcome}`);
      }
    }),
  );
}

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

function exportAndVerify(): { entries: Array<Record<string, any>>; verify: any } {
  const out = join(dataDir, `export-${Date.now()}.jsonl`);
  const pem = join(dataDir, 'audit.pem');
  cli(['audit', 'export', '--store', url, '--out', out]);
  const key = spawnSync(process.execPath, [CLI, 'audit', 'public-key', '--data-dir', dataDir, '--out', pem], { encoding: 'utf8' });
  if (key.status !== 0) throw new Error(`audit public-key failed: ${key.stderr}`);
  const result = spawnSync(process.execPath, [CLI, 'audit', 'verify', out, '--public-key', pem, '--no-progress'], { encoding: 'utf8' });
  const entries = readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .filter((line) => line.type === 'entry')
    .map((line) => line.entry);
  return { entries, verify: { status: result.status, ...JSON.parse(result.stdout) } };
}

beforeAll(async () => {
  requireBuild();
  postgres = await startPostgres();
  url = postgres.connectionString;
  dataDir = tempDir('p11kms-replicas-');
  cli(['init', '--data-dir', dataDir]);
  const layout = dataDirLayout(dataDir);
  credentials = { ca: readFileSync(layout.caCert), cert: readFileSync(layout.adminCert), key: readFileSync(layout.adminKey) };
  await startReplica(); // the first one migrates and makes the audit key; the others start together
  await Promise.all([startReplica(), startReplica()]);
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
  await postgres?.stop();
});

describe('three replicas on one PostgreSQL and one SoftHSM2 token', () => {
  it('leaves the data dir\'s SQLite file alone when PostgreSQL is the store', () => {
    expect(() => readFileSync(dataDirLayout(dataDir).database)).toThrow(/ENOENT/);
  });

  it('serves a key created through one replica at once through the others', async () => {
    const keyId = await createKey(0);
    const sealed = await encrypt(1, keyId);
    expect(sealed.outcome).toBe('Success');
    const opened = await call(2, 'Decrypt', { ciphertext_blob: sealed.response.ciphertext_blob });
    expect(opened.outcome).toBe('Success');
    expect(Buffer.from(opened.response.plaintext).toString()).toBe('replicated');
  });

  it(`makes DisableKey, ScheduleKeyDeletion and PutKeyPolicy take effect on every replica within ${BOUND_MS} ms`, async () => {
    const results: Record<string, number[]> = {};
    for (const [name, change, expected] of [
      ['DisableKey', (keyId: string) => call(0, 'DisableKey', { key_id: keyId }), 'DisabledException'],
      ['ScheduleKeyDeletion', (keyId: string) => call(0, 'ScheduleKeyDeletion', { key_id: keyId, pending_window_in_days: 7 }), 'KMSInvalidStateException'],
      [
        'PutKeyPolicy',
        (keyId: string) =>
          call(0, 'PutKeyPolicy', {
            key_id: keyId,
            policy_name: 'default',
            policy: JSON.stringify({
              Version: '2012-10-17',
              Statement: [
                { Sid: 'root', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
                { Sid: 'no-encrypt', Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:Encrypt', Resource: '*' },
              ],
            }),
          }),
        'AccessDeniedException',
      ],
    ] as const) {
      const keyId = await createKey(0);
      // Warm every replica's cache with the key as it was.
      for (let i = 0; i < 3; i++) for (let r = 1; r < replicas.length; r++) expect((await encrypt(r, keyId)).outcome).toBe('Success');
      results[name] = await propagation(() => change(keyId), (r) => encrypt(r, keyId), expected);
    }
    console.log(
      `propagation to the other replicas (ms): ${Object.entries(results)
        .map(([name, times]) => `${name} ${times.map((t) => t.toFixed(1)).join(' / ')}`)
        .join('; ')}`,
    );
    for (const times of Object.values(results)) for (const time of times) expect(time).toBeLessThan(BOUND_MS);
  });

  it('runs the deletion scheduler once across replicas: one DeleteKey entry for a due key', async () => {
    const keyId = await createKey(1);
    expect((await call(1, 'ScheduleKeyDeletion', { key_id: keyId, pending_window_in_days: 7 })).outcome).toBe('Success');
    // Make it due now, as the clock would in 7 days (the trigger tells every cache).
    await sql('UPDATE keys SET deletion_date = $1 WHERE id = $2', [Date.now() - 1000, keyId]);
    const deadline = Date.now() + 15_000;
    while ((await call(2, 'DescribeKey', { key_id: keyId })).outcome !== 'NotFoundException') {
      if (Date.now() > deadline) throw new Error('the scheduler did not delete the due key');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 2500)); // two more scheduler passes on every replica
    const rows = await sql<{ count: number }>(
      `SELECT count(*)::int AS count FROM ledger_entries e JOIN ledger_entry_keys k ON k.seq = e.seq
       WHERE k.key_id = $1 AND e.operation = 'DeleteKey'`,
      [keyId],
    );
    expect(rows[0]!.count).toBe(1);
  });

  it('keeps one ledger under concurrent load on every replica: contiguous, verified, one entry per request', async () => {
    const keyId = await createKey(0);
    const answers = await Promise.all(
      replicas.flatMap((_, r) => Array.from({ length: 150 }, (_, i) => (i % 5 === 4 ? call(r, 'DescribeKey', { key_id: keyId }) : encrypt(r, keyId)))),
    );
    expect(answers.every((answer) => answer.outcome === 'Success')).toBe(true);
    const { entries, verify } = exportAndVerify();
    expect(verify).toMatchObject({ status: 0, ok: true });
    expect(entries.map((entry) => entry.seq)).toEqual(entries.map((_, i) => i + 1));
    const counts = new Map<string, number>();
    for (const entry of entries) counts.set(entry.requestId, (counts.get(entry.requestId) ?? 0) + 1);
    for (const answer of answers) expect(counts.get(answer.requestId!)).toBe(1);
  });

  it('keeps serving when a replica is SIGKILLed under load, losing nothing acknowledged', async () => {
    const keyId = await createKey(0);
    const victim = replicas.length - 1;
    const loads = replicas.map((_, r) =>
      (async () => {
        const answers: Answer[] = [];
        for (let i = 0; i < 60; i++) answers.push(await encrypt(r, keyId));
        return answers;
      })(),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    replicas[victim]!.child.kill('SIGKILL');
    const results = await Promise.all(loads);
    for (let r = 0; r < victim; r++) expect(results[r]!.every((answer) => answer.outcome === 'Success')).toBe(true);
    expect((await encrypt(0, keyId)).outcome).toBe('Success');
    const { entries, verify } = exportAndVerify();
    expect(verify).toMatchObject({ status: 0, ok: true });
    const recorded = new Set(entries.map((entry) => entry.requestId));
    const lost = [...acknowledged].filter((id) => !recorded.has(id));
    expect(lost).toEqual([]);
    clients[victim].close();
    replicas.splice(victim, 1);
    clients.splice(victim, 1);
  });

  it('fails fast with a retryable error while PostgreSQL is down, then recovers by itself', async () => {
    const keyId = await createKey(0);
    await postgres.stopServer('fast');
    let down: Answer[];
    let elapsed = 0;
    try {
      const started = performance.now();
      down = await Promise.all(replicas.map((_, r) => callForAnswer(clients[r], 'Encrypt', { key_id: keyId, plaintext: Buffer.from('x') }, 10_000)));
      const creating = await callForAnswer(clients[0], 'CreateKey', { description: 'during the outage' }, 10_000);
      down.push(creating);
      elapsed = performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      await postgres.startServer();
    }
    expect(elapsed).toBeLessThan(5000);
    if (!down.every((answer) => answer.outcome === 'DependencyTimeoutException')) {
      console.log(down, replicas.map((replica) => replica.output().slice(-3000)).join('\n-----\n'));
    }
    for (const answer of down) expect(answer.outcome).toBe('DependencyTimeoutException');
    console.log(`while PostgreSQL was down: ${down.length} requests failed with DependencyTimeoutException (UNAVAILABLE) within ${elapsed.toFixed(0)} ms`);

    const deadline = Date.now() + 20_000;
    for (let r = 0; r < replicas.length; r++) {
      for (;;) {
        const answer = await encrypt(r, keyId);
        if (answer.outcome === 'Success') break;
        expect(answer.outcome).toBe('DependencyTimeoutException');
        if (Date.now() > deadline) throw new Error(`replica ${r} did not recover`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const { entries, verify } = exportAndVerify();
    expect(verify).toMatchObject({ status: 0, ok: true });
    expect(entries.map((entry) => entry.seq)).toEqual(entries.map((_, i) => i + 1));
    // The CreateKey that failed left no key behind.
    const keys = await sql<{ description: string }>("SELECT description FROM keys WHERE description = 'during the outage'");
    expect(keys).toEqual([]);
  });

  it('hands the scheduler to another replica when the leader is SIGKILLed', async () => {
    const leader = replicas.findIndex((replica) => /leader: this replica runs the scheduler/.test(replica.output()));
    expect(leader).toBeGreaterThanOrEqual(0);
    replicas[leader]!.child.kill('SIGKILL');
    clients[leader].close();
    replicas.splice(leader, 1);
    clients.splice(leader, 1);
    const keyId = await createKey(0);
    expect((await call(0, 'ScheduleKeyDeletion', { key_id: keyId, pending_window_in_days: 7 })).outcome).toBe('Success');
    await sql('UPDATE keys SET deletion_date = $1 WHERE id = $2', [Date.now() - 1000, keyId]);
    const started = performance.now();
    while ((await call(0, 'DescribeKey', { key_id: keyId })).outcome !== 'NotFoundException') {
      if (performance.now() - started > 15_000) throw new Error('no replica took over the scheduler');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    console.log(`a new leader deleted the due key ${(performance.now() - started).toFixed(0)} ms after the old leader was killed`);
    expect(replicas.some((replica) => /leader: this replica runs the scheduler/.test(replica.output()))).toBe(true);
    const { verify } = exportAndVerify();
    expect(verify).toMatchObject({ status: 0, ok: true });
  });
});
