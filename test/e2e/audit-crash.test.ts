import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { cli, rawClient, requireBuild, startServer, tempDir, type ServerProcess } from '../support/server-process.js';
import {
  adminCredentials,
  type Answer,
  callForAnswer,
  exportAndKey,
  exportEntries,
  KNOWN_PLAINTEXT,
  mixedRequest,
  outsiderCredentials,
  verifyWithCli,
} from './audit-load.js';

// Audit before answer (DESIGN.md invariant 3), proven the hard way: the server is killed with
// SIGKILL while several clients keep requests in flight. Whatever a client received — a result or
// an error naming its request id — must have its entry in the ledger after the restart.

let dataDir: string;
let server: ServerProcess | undefined;
const clients: any[] = [];

beforeAll(() => {
  requireBuild();
  dataDir = tempDir('p11kms-audit-crash-');
  cli(['init', '--data-dir', dataDir]);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server?.stop();
});

describe('the audit ledger across a SIGKILL under load', () => {
  it('holds an entry for every response a client received, and the chain continues after restart', async () => {
    const env = { ...process.env, P11KMS_LEDGER_CHECKPOINT_EVERY: '100', P11KMS_LEDGER_CHECKPOINT_SECONDS: '0.2' };
    const outsiderCreds = outsiderCredentials(dataDir);
    server = await startServer(['--data-dir', dataDir], env);
    const admin = rawClient(server.address, adminCredentials(dataDir));
    const outsider = rawClient(server.address, outsiderCreds);
    clients.push(admin, outsider);
    const created = await callForAnswer(admin, 'CreateKey', {});
    const keyId = created.response.key_metadata.key_id;
    const encrypted = await callForAnswer(admin, 'Encrypt', { key_id: keyId, plaintext: Buffer.from(KNOWN_PLAINTEXT) });
    const key = { keyId, arn: created.response.key_metadata.arn, ciphertext: encrypted.response.ciphertext_blob };

    const received: Answer[] = [created, encrypted];
    let failedWithoutAnswer = 0;
    let killed = false;
    const worker = async (n: number) => {
      for (let i = n; !killed; i += 32) {
        const { client, method, request } = mixedRequest(i, key);
        const answer = await callForAnswer(client === 'outsider' ? outsider : admin, method, request, 5_000);
        if (answer.requestId !== undefined) received.push(answer);
        else failedWithoutAnswer++;
      }
    };
    const load = Promise.all(Array.from({ length: 32 }, (_, n) => worker(n)));
    while (received.length < 1500) await new Promise((resolve) => setTimeout(resolve, 20));
    const exited = once(server.child, 'exit');
    server.child.kill('SIGKILL');
    await exited;
    killed = true;
    await load;
    const beforeKill = received.length;
    expect(beforeKill).toBeGreaterThanOrEqual(1500);

    // Restart on the same data dir: the chain goes on from the stored head.
    server = await startServer(['--data-dir', dataDir], env);
    const again = rawClient(server.address, adminCredentials(dataDir));
    clients.push(again);
    for (let i = 0; i < 5; i++) received.push(await callForAnswer(again, 'DescribeKey', { key_id: keyId }));
    expect(await server.stop()).toBe(0);
    server = undefined;

    const files = exportAndKey(dataDir);
    const { status, report } = verifyWithCli(files);
    expect(report).toMatchObject({ ok: true, firstBadSeq: null });
    expect(status).toBe(0);
    const entries = exportEntries(files.exportFile);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    const byRequestId = new Map(entries.map((e) => [e.requestId as string, e]));
    expect(byRequestId.size).toBe(entries.length); // one entry per request, never two
    const missing = received.filter((answer) => !byRequestId.has(answer.requestId!));
    expect(missing).toEqual([]);
    for (const answer of received) expect(byRequestId.get(answer.requestId!)!.outcome).toBe(answer.outcome);
    // The five requests after the restart are the last entries: the chain continued, no fork.
    expect(entries.slice(-5).map((e) => e.operation)).toEqual(Array(5).fill('DescribeKey'));
    console.log(
      `audit crash e2e: ${beforeKill} answers before SIGKILL, ${failedWithoutAnswer} calls cut off, ` +
        `${entries.length} entries, ${report.checkpoints} checkpoints`,
    );
  });
});
