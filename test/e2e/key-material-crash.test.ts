import { once } from 'node:events';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirLayout } from '../../src/cli/data-dir.js';
import { cli, rawClient, requireBuild, startServer, tempDir, type ServerProcess } from '../support/server-process.js';
import { dataDirToken, listObjectsWithPkcs11Tool } from '../support/softhsm.js';
import { adminCredentials, callForAnswer, exportAndKey, exportEntries, verifyWithCli } from './audit-load.js';

// Crash-safe key creation (KeyMaterialIntentStore), proven the hard way: the server is killed with
// SIGKILL while CreateKey calls are in flight, so some token objects may exist without metadata.
// Each such object must have a pending intent in the store, and the restarted server's scheduler
// must destroy exactly those objects and record it in the ledger, leaving every stored key whole.

let dataDir: string;
let server: ServerProcess | undefined;
const clients: any[] = [];

beforeAll(() => {
  requireBuild();
  dataDir = tempDir('p11kms-key-material-crash-');
  cli(['init', '--data-dir', dataDir]);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server?.stop();
});

/** Key-version ids of the token's KMS key objects (labels `p11kms:<keyId>:<versionId>`), by OpenSC. */
function versionsInToken(): Set<string> {
  const labels = listObjectsWithPkcs11Tool(dataDirToken(dataDir)).matchAll(/label:\s+p11kms:([0-9a-f-]{36}):([0-9a-f-]{36})/g);
  return new Set([...labels].map((match) => match[2]!));
}

function readStore(): { versions: Set<string>; intents: Map<string, string> } {
  const db = new Database(dataDirLayout(dataDir).database, { readonly: true });
  try {
    const versions = db.prepare('SELECT id FROM key_versions').pluck().all() as string[];
    const intents = db.prepare('SELECT version_id, state FROM key_material_intents').all() as { version_id: string; state: string }[];
    return { versions: new Set(versions), intents: new Map(intents.map((row) => [row.version_id, row.state])) };
  } finally {
    db.close();
  }
}

async function createKeysUntilKilled(env: NodeJS.ProcessEnv): Promise<number> {
  server = await startServer(['--data-dir', dataDir], env);
  const admin = rawClient(server.address, adminCredentials(dataDir));
  clients.push(admin);
  let answered = 0;
  let killed = false;
  const worker = async () => {
    while (!killed) if ((await callForAnswer(admin, 'CreateKey', {}, 5_000)).outcome === 'Success') answered++;
  };
  const load = Promise.all(Array.from({ length: 16 }, worker));
  while (answered < 40) await new Promise((resolve) => setTimeout(resolve, 5));
  const exited = once(server.child, 'exit');
  server.child.kill('SIGKILL');
  await exited;
  killed = true;
  await load;
  server = undefined;
  return answered;
}

describe('key material across a SIGKILL during CreateKey', () => {
  it('leaves every orphan token object with a pending intent, and the restarted scheduler destroys exactly those', async () => {
    // The first runs never abandon: the crash's leftovers must still be there to inspect.
    const keepAll = { ...process.env, P11KMS_ABANDON_KEY_MATERIAL_AFTER_SECONDS: '3600' };
    let orphans: string[] = [];
    let attempts = 0;
    // The kill lands between the token and the store in most attempts; try a few times until it does.
    while (orphans.length === 0 && attempts < 15) {
      attempts++;
      await createKeysUntilKilled(keepAll);
      const stored = readStore();
      orphans = [...versionsInToken()].filter((versionId) => !stored.versions.has(versionId));
      for (const orphan of orphans) expect(stored.intents.get(orphan)).toBe('pending');
    }
    expect(orphans.length).toBeGreaterThan(0);
    const pendingAtCrash = [...readStore().intents].filter(([, state]) => state === 'pending').map(([id]) => id);

    server = await startServer(['--data-dir', dataDir], {
      ...process.env,
      P11KMS_ABANDON_KEY_MATERIAL_AFTER_SECONDS: '3',
      P11KMS_SCHEDULER_INTERVAL_SECONDS: '1',
    });
    const deadline = Date.now() + 30_000;
    while ([...readStore().intents.values()].some((state) => state !== 'destroyed') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const after = readStore();
    expect([...after.intents.values()].every((state) => state === 'destroyed')).toBe(true);
    expect(after.intents.size).toBe(pendingAtCrash.length);
    const inToken = versionsInToken();
    expect(orphans.filter((versionId) => inToken.has(versionId))).toEqual([]);
    // Every stored version still has its object: the sweep destroyed nothing a key names.
    expect([...after.versions].filter((versionId) => !inToken.has(versionId))).toEqual([]);
    expect([...inToken].filter((versionId) => !after.versions.has(versionId))).toEqual([]);

    const admin = rawClient(server.address, adminCredentials(dataDir));
    clients.push(admin);
    expect((await callForAnswer(admin, 'CreateKey', {})).outcome).toBe('Success');
    expect(await server.stop()).toBe(0);
    server = undefined;

    const files = exportAndKey(dataDir);
    expect(verifyWithCli(files).report).toMatchObject({ ok: true, firstBadSeq: null });
    const destroyed = exportEntries(files.exportFile).filter((entry) => entry.operation === 'DestroyAbandonedKeyMaterial');
    expect(destroyed.map((entry) => entry.parameters.keyVersionId).sort()).toEqual([...pendingAtCrash].sort());
    expect(destroyed.every((entry) => entry.outcome === 'Success')).toBe(true);
    console.log(
      `key material crash e2e: ${attempts} SIGKILL(s), ${orphans.length} orphan object(s), ` +
        `${pendingAtCrash.length} pending intent(s) destroyed by the restarted scheduler`,
    );
  });
});
