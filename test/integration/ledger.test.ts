import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Pkcs11Hsm } from '../../src/adapters/pkcs11/pkcs11-hsm.js';
import { checkpointPayload } from '../../src/audit/checkpoint.js';
import { auditPublicKeyPem } from '../../src/audit/checkpointer.js';
import { LedgerUnavailableError } from '../../src/audit/ledger.js';
import * as kms from '../../src/operations/index.js';
import { ACCOUNT_LEVEL_ACTIONS } from '../../src/policy/kms-authorization.js';
import { KeyLifecycleScheduler } from '../../src/scheduler/key-lifecycle-scheduler.js';
import { listObjectsWithPkcs11Tool } from '../support/softhsm.js';
import { ACCOUNT, ADMIN, DEVELOPER, OUTSIDER } from '../support/pipeline-harness.js';
import { exportedEntries, ledgerHarness, type LedgerHarness } from './ledger-harness.js';

const KNOWN_PLAINTEXT = 'ledger-known-plaintext-5c1e0b';

/**
 * The AuditService's keyless reads are account-level actions: identity policies decide them and the
 * account root may always: the evaluator has them in its ACCOUNT_LEVEL_ACTIONS.
 */
const AUDIT_READ_ACTIONS = ['kms:ListAuditEvents', 'kms:GetLedgerHead', 'kms:ListCheckpoints', 'kms:GetAuditPublicKey'];

let h: LedgerHarness;
let keyId: string;
let keyArn: string;

beforeAll(async () => {
  h = await ledgerHarness({ checkpointEveryEntries: 10, checkpointIntervalMs: 60_000 });
  const created = await h.call(kms.createKey, { description: 'ledger tests' });
  keyId = created.keyMetadata.keyId;
  keyArn = created.keyMetadata.arn;
});
afterAll(async () => h?.close());

/** The entries appended by `work`, in order. */
async function entriesOf(work: () => Promise<unknown>): Promise<Array<Record<string, any>>> {
  const before = h.ledger.ledger.head.seq;
  await work();
  await h.ledger.ledger.flush();
  return exportedEntries(h.exportLines()).filter((entry) => entry.seq > before);
}

describe('the audit ledger on SQLite and a SoftHSM2 token, behind the real pipeline', () => {
  it('records exactly one entry per request: successes, denials, errors, unauthenticated calls', async () => {
    const calls: Array<() => Promise<unknown>> = [
      () => h.call(kms.encrypt, { keyId, plaintext: Buffer.from(KNOWN_PLAINTEXT), encryptionContext: { app: 'ledger' } }),
      () => h.call(kms.encrypt, { keyId: keyArn, plaintext: Buffer.from('x') }, OUTSIDER),
      () => h.call(kms.encrypt, { keyId, plaintext: Buffer.alloc(4097) }),
      () => h.call(kms.describeKey, { keyId: '00000000-0000-4000-8000-000000000000' }),
      () => h.call(kms.generateRandom, { numberOfBytes: 16 }, ''),
      () => h.call(kms.describeKey, { keyId }, DEVELOPER),
    ];
    const entries = await entriesOf(async () => {
      for (const call of calls) await call().catch(() => undefined);
    });
    expect(entries.map((e) => [e.operation, e.outcome])).toEqual([
      ['Encrypt', 'Success'],
      ['Encrypt', 'AccessDeniedException'],
      ['Encrypt', 'ValidationException'],
      ['DescribeKey', 'NotFoundException'],
      ['GenerateRandom', 'UnrecognizedClientException'],
      ['DescribeKey', 'Success'],
    ]);
    const [success, denied, invalid, , unauthenticated] = entries;
    expect(success).toMatchObject({
      principalArn: ADMIN,
      principalAccount: ACCOUNT,
      keyArns: [keyArn],
      kind: 'request',
      parameters: { keyId, encryptionContext: { app: 'ledger' } },
      decision: { allowed: true },
    });
    expect(denied).toMatchObject({ principalArn: OUTSIDER, keyArns: [keyArn], decision: { allowed: false } });
    expect(invalid!.decision).toBeNull();
    expect(unauthenticated).toMatchObject({ principalArn: null, principalAccount: null, decision: null });
    expect(new Set(entries.map((e) => e.requestId)).size).toBe(entries.length);
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
  });

  it("records background work (scheduled deletion) with kind 'background'", async () => {
    const doomed = (await h.call(kms.createKey, {})).keyMetadata;
    await h.call(kms.scheduleKeyDeletion, { keyId: doomed.keyId, pendingWindowInDays: 7 });
    const scheduler = new KeyLifecycleScheduler({
      hsm: h.hsm,
      store: h.store,
      clock: h.clock,
      audit: h.ledger.ledger.sink('background'),
      logger: { info() {}, error() {} },
    });
    h.clock.advance(8 * 86_400_000);
    try {
      const entries = await entriesOf(() => scheduler.runOnce());
      expect(entries.map((e) => [e.operation, e.outcome, e.kind, e.keyArns])).toEqual([
        ['DeleteKey', 'Success', 'background', [doomed.arn]],
      ]);
    } finally {
      h.clock.advance(-8 * 86_400_000);
    }
  });

  it('fails closed: when the entry cannot be written, the request fails and returns no plaintext', async () => {
    const { ciphertextBlob } = await h.call(kms.encrypt, { keyId, plaintext: Buffer.from(KNOWN_PLAINTEXT) });
    const before = h.ledger.ledger.head.seq;
    // Another connection makes every insert into the ledger fail, as a full or broken disk would.
    const saboteur = new Database(h.database);
    saboteur.exec(`CREATE TRIGGER sabotage BEFORE INSERT ON ledger_entries BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    let answered: unknown;
    try {
      answered = await h.call(kms.decrypt, { ciphertextBlob });
    } catch (error) {
      expect(error).toBeInstanceOf(LedgerUnavailableError);
    } finally {
      saboteur.exec('DROP TRIGGER sabotage');
      saboteur.close();
    }
    expect(answered).toBeUndefined();
    expect(h.ledger.ledger.stats.failedBatches).toBeGreaterThan(0);
    expect(h.logged.some((l) => l.message.startsWith('audit ledger write failed'))).toBe(true);

    // The chain goes on from the stored head: no gap where the failed request would have been.
    const after = await h.call(kms.decrypt, { ciphertextBlob });
    expect(after.plaintext.toString()).toBe(KNOWN_PLAINTEXT);
    expect(h.ledger.ledger.head.seq).toBe(before + 1);
    expect(await h.verify()).toMatchObject({ ok: true, entries: before + 1 });
  });

  it('fails closed when the ledger store is closed', async () => {
    await h.ledgerStore.close();
    await expect(h.call(kms.encrypt, { keyId, plaintext: Buffer.from(KNOWN_PLAINTEXT) })).rejects.toBeInstanceOf(
      LedgerUnavailableError,
    );
    await h.reopen();
    await expect(h.call(kms.describeKey, { keyId })).resolves.toBeDefined();
  });

  it('groups concurrent requests into few transactions (group commit)', async () => {
    const { batches, entries } = { ...h.ledger.ledger.stats };
    const requests = 200;
    await Promise.all(
      Array.from({ length: requests }, (_, i) => h.call(kms.encrypt, { keyId, plaintext: Buffer.from(`m${i}`) })),
    );
    const stats = h.ledger.ledger.stats;
    expect(stats.entries - entries).toBe(requests);
    // One transaction per request would be 200; batching makes it a handful.
    expect(stats.batches - batches).toBeLessThanOrEqual(requests / 10);
    expect(stats.largestBatch).toBeGreaterThan(10);
    expect(await h.verify()).toMatchObject({ ok: true });
  });

  it('continues the chain across a restart, from the stored head', async () => {
    const before = { ...h.ledger.ledger.head };
    await h.reopen();
    expect(h.ledger.ledger.head.seq).toBe(before.seq);
    expect(h.ledger.ledger.head.hash.equals(before.hash)).toBe(true);
    await h.call(kms.describeKey, { keyId });
    const result = await h.verify();
    expect(result).toMatchObject({ ok: true, entries: before.seq + 1 });
  });

  it("signs checkpoints with the token's audit key; node:crypto verifies them against the exported PEM", async () => {
    await h.ledger.checkpointer.checkpointNow();
    const page = await h.ledgerStore.listCheckpoints({ limit: 1000 });
    expect(page.items.length).toBeGreaterThan(2);
    const lines = h.exportLines();
    for (const checkpoint of page.items) {
      const payload = checkpointPayload(checkpoint.seq, checkpoint.hash, checkpoint.time);
      const signature = Buffer.from(checkpoint.signature, 'base64');
      expect(verify('sha256', payload, { key: h.ledger.publicKeyPem, dsaEncoding: 'der' }, signature)).toBe(true);
      const entry = lines.map((l) => JSON.parse(l)).find((l) => l.type === 'entry' && l.entry.seq === checkpoint.seq);
      expect(entry.hash).toBe(checkpoint.hash);
    }
    const result = await h.verify();
    expect(result).toMatchObject({ ok: true, verifiedThrough: h.ledger.ledger.head.seq });
  });

  it('keeps the audit key in the token: sensitive, never extractable, found again on restart', async () => {
    const listing = listObjectsWithPkcs11Tool(h.token);
    const blocks = listing.split(/\n(?=\S)/).filter((block) => block.includes('p11kms:audit-signing-key:v1'));
    const privateKeys = blocks.filter((block) => block.startsWith('Private Key Object'));
    expect(privateKeys).toHaveLength(1);
    expect(privateKeys[0]).toMatch(/Private Key Object; EC/);
    expect(privateKeys[0]).toMatch(/Usage:\s+sign\n/);
    const access = /Access:\s+(.*)/.exec(privateKeys[0]!)![1]!.split(', ');
    expect(access).toEqual(expect.arrayContaining(['sensitive', 'always sensitive', 'never extractable']));
    expect(access).not.toContain('extractable');
    expect(blocks.filter((block) => block.startsWith('Public Key Object'))).toHaveLength(1);

    const other = await Pkcs11Hsm.open({ libraryPath: h.token.libraryPath, tokenLabel: h.token.tokenLabel, pin: h.token.pin });
    try {
      const again = auditPublicKeyPem((await other.ensureAuditSigningKey()).publicKeySpkiDer);
      expect(again).toBe(h.ledger.publicKeyPem);
    } finally {
      await other.close();
    }
    expect(createPublicKey(h.ledger.publicKeyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('holds no plaintext: the database and its WAL never contain it', async () => {
    await h.ledger.ledger.flush();
    const files = readdirSync(h.token.dir).filter((name) => name.startsWith('p11kms.db'));
    expect(files).toContain('p11kms.db');
    for (const name of files) {
      const bytes = readFileSync(`${h.token.dir}/${name}`);
      expect(bytes.includes(KNOWN_PLAINTEXT)).toBe(false);
      expect(bytes.includes(Buffer.from(KNOWN_PLAINTEXT).toString('base64'))).toBe(false);
    }
    expect(h.exportLines().join('\n')).not.toContain(KNOWN_PLAINTEXT);
  });
});

describe('the AuditService reads, through the pipeline (account-level actions)', () => {
  it('are account-level actions, decided by identity policies alone', () => {
    for (const action of AUDIT_READ_ACTIONS) expect(ACCOUNT_LEVEL_ACTIONS.has(action)).toBe(true);
  });

  it('ListAuditEvents filters by key, principal, operation, outcome and time, page by page', async () => {
    const other = (await h.call(kms.createKey, {})).keyMetadata;
    await h.call(kms.encrypt, { keyId: other.keyId, plaintext: Buffer.from('a') });
    await h.call(kms.encrypt, { keyId: other.arn, plaintext: Buffer.from('b') }, DEVELOPER);
    await h.call(kms.encrypt, { keyId: other.arn, plaintext: Buffer.from('c') }, OUTSIDER).catch(() => undefined);
    await h.ledger.ledger.flush();

    const list = (request: object, principal = ADMIN) => h.call(h.operations.listAuditEvents, request, principal);
    const byKey = await list({ keyId: other.keyId });
    expect(byKey.events.map((e: any) => [e.operation, e.outcome])).toEqual([
      ['CreateKey', 'Success'],
      ['Encrypt', 'Success'],
      ['Encrypt', 'Success'],
      ['Encrypt', 'AccessDeniedException'],
    ]);
    expect((await list({ keyId: other.arn })).events).toHaveLength(4);
    expect((await list({ keyId: other.keyId, principalArn: DEVELOPER })).events.map((e: any) => e.principalArn)).toEqual([DEVELOPER]);
    expect((await list({ keyId: other.keyId, outcome: 'AccessDeniedException' })).events).toHaveLength(1);
    expect((await list({ operation: 'CreateKey' })).events.length).toBeGreaterThanOrEqual(3);
    const at = h.clock.now(); // the harness clock stands still unless a test moves it
    expect((await list({ keyId: other.keyId, startTime: at, endTime: at })).events).toHaveLength(4);
    expect((await list({ startTime: new Date(at.getTime() + 30 * 86_400_000) })).events).toEqual([]);
    expect((await list({ endTime: new Date(at.getTime() - 1) })).events).toEqual([]);
    await expect(list({ startTime: at, endTime: new Date(at.getTime() - 1) })).rejects.toMatchObject({ name: 'ValidationException' });

    const event = byKey.events[1];
    expect(event).toMatchObject({ seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/), kind: 'request' });
    expect(JSON.parse(event.parametersJson)).toMatchObject({ keyId: other.keyId });
    expect(createHash('sha256').update(event.entryJson).digest('hex')).not.toBe(event.hash); // chained, not a plain hash

    // Pages: Limit and NextMarker walk every entry exactly once, in either direction.
    const seen: number[] = [];
    let marker: string | undefined;
    do {
      const page = await list({ limit: 7, marker });
      seen.push(...page.events.map((e: any) => e.seq));
      expect(page.truncated).toBe(page.nextMarker !== undefined);
      marker = page.nextMarker;
    } while (marker);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(seen.length);
    const newest = await list({ limit: 3, newestFirst: true });
    expect(newest.events.map((e: any) => e.seq)).toEqual([...newest.events.map((e: any) => e.seq)].sort((a, b) => b - a));
    // By key, newest first, a page at a time: the same entries as the whole listing, reversed.
    const byKeyNewest: number[] = [];
    let keyMarker: string | undefined;
    do {
      const page = await list({ keyId: other.keyId, limit: 3, newestFirst: true, marker: keyMarker });
      byKeyNewest.push(...page.events.map((e: any) => e.seq));
      keyMarker = page.nextMarker;
    } while (keyMarker);
    expect(byKeyNewest).toEqual(byKey.events.map((e: any) => e.seq).reverse());
    await expect(list({ marker: 'bm9wZQ' })).rejects.toMatchObject({ name: 'InvalidMarkerException' });
    await expect(list({ keyId: 'alias/anything' })).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(list({ limit: 1001 })).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it("ListAuditEvents shows a caller only its account's requests and keys", async () => {
    const outsiders = await h.call(h.operations.listAuditEvents, { limit: 1000 }, OUTSIDER);
    expect(outsiders.events.length).toBeGreaterThan(0);
    for (const event of outsiders.events) {
      const visible = event.principalAccount === '444455556666' || event.keyArns.some((arn: string) => arn.includes(':444455556666:'));
      expect(visible).toBe(true);
    }
    const admins = await h.call(h.operations.listAuditEvents, { principalArn: OUTSIDER, limit: 1000 });
    // The outsider's denied calls on this account's keys are this account's business too.
    expect(admins.events.length).toBeGreaterThan(0);
    expect(admins.events.every((e: any) => e.outcome === 'AccessDeniedException')).toBe(true);
  });

  it('GetLedgerHead, ListCheckpoints and GetAuditPublicKey describe the chain and its key', async () => {
    await h.ledger.ledger.flush();
    const stored = await h.ledgerStore.head();
    const head = await h.call(h.operations.getLedgerHead, {});
    expect(head).toMatchObject({ seq: stored.seq, hash: stored.hash });
    expect(head.lastCheckpoint).toMatchObject({ seq: expect.any(Number), signature: expect.any(String) });

    const checkpoints = await h.call(h.operations.listCheckpoints, { limit: 2 });
    expect(checkpoints.checkpoints).toHaveLength(2);
    expect(checkpoints.truncated).toBe(true);
    const next = await h.call(h.operations.listCheckpoints, { limit: 1000, marker: checkpoints.nextMarker });
    expect(next.checkpoints[0].seq).toBeGreaterThan(checkpoints.checkpoints[1].seq);

    const key = await h.call(h.operations.getAuditPublicKey, {});
    expect(key.publicKeyPem).toBe(h.ledger.publicKeyPem);
    const der = createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
    expect(key.fingerprintSha256).toBe(createHash('sha256').update(der).digest('hex'));
  });

  it('records the audit reads themselves, like any request', async () => {
    const entries = await entriesOf(() => h.call(h.operations.getLedgerHead, {}));
    expect(entries.map((e) => [e.operation, e.outcome])).toEqual([['GetLedgerHead', 'Success']]);
  });
});

describe('GetKeyLastUsage, through the pipeline', () => {
  it('GetKeyLastUsage answers the last successful cryptographic operation, from the ledger', async () => {
    const fresh = (await h.call(kms.createKey, {})).keyMetadata;
    const unused = await h.call(h.operations.getKeyLastUsage, { keyId: fresh.keyId });
    expect(unused).toMatchObject({ keyId: fresh.arn, keyLastUsage: undefined });
    expect(unused.trackingStartDate.getTime()).toBeGreaterThanOrEqual(unused.keyCreationDate.getTime());

    const { ciphertextBlob } = await h.call(kms.encrypt, { keyId: fresh.keyId, plaintext: Buffer.from('x') });
    await h.call(kms.decrypt, { ciphertextBlob });
    await h.call(kms.decrypt, { ciphertextBlob: Buffer.from('garbage'.repeat(10)) }).catch(() => undefined);
    await h.call(kms.describeKey, { keyId: fresh.keyId });
    await h.call(kms.encrypt, { keyId: fresh.keyId, plaintext: Buffer.from('y') }, OUTSIDER).catch(() => undefined);
    await h.ledger.ledger.flush();

    const used = await h.call(h.operations.getKeyLastUsage, { keyId: fresh.arn });
    expect(used.keyLastUsage).toMatchObject({ operation: 'Decrypt', ledgerSeq: expect.any(Number) });
    const entry = exportedEntries(h.exportLines())
      .filter((e) => e.operation === 'Decrypt' && e.outcome === 'Success' && e.keyArns.includes(fresh.arn))
      .at(-1)!;
    expect(used.keyLastUsage).toMatchObject({ kmsRequestId: entry.requestId, ledgerSeq: entry.seq });
    expect(used.keyLastUsage.timestamp.toISOString()).toBe(entry.time);
    await expect(h.call(h.operations.getKeyLastUsage, { keyId: 'alias/x' })).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(h.call(h.operations.getKeyLastUsage, { keyId: fresh.arn }, OUTSIDER)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });
});
