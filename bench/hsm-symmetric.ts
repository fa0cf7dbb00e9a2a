/**
 * AES-256-GCM 1 KiB on a fresh SoftHSM2 token: raw pkcs11js (sync and async) as the baseline, and
 * the Hsm adapter, measured in the same run. The sync/async ratio is why the softhsm2 vendor
 * profile runs short symmetric calls on the event loop.
 *   npm run bench:hsm [-- --seconds 2]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { Pkcs11Hsm } from '../src/adapters/pkcs11/pkcs11-hsm.js';
import { aes256KeyTemplate } from '../src/adapters/pkcs11/templates.js';
import { softhsmConfiguration } from '../src/cli/init.js';

const LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 2;

async function measure(name: string, inFlight: number, op: (worker: number) => Promise<unknown> | unknown): Promise<{ name: string; inFlight: number; opsPerSecond: number }> {
  const deadline = performance.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      while (performance.now() < deadline) {
        await op(worker);
        count++;
      }
    }),
  );
  return { name, inFlight, opsPerSecond: Math.round(count / seconds) };
}

const dir = mkdtempSync(join(tmpdir(), 'p11kms-bench-'));
mkdirSync(join(dir, 'tokens'));
writeFileSync(join(dir, 'softhsm2.conf'), softhsmConfiguration(join(dir, 'tokens')));
process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
const pin = randomBytes(8).toString('hex');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--so-pin', pin, '--pin', pin], { stdio: 'ignore' });

const hsm = await Pkcs11Hsm.open({ libraryPath: LIBRARY, tokenLabel: 'bench', pin });
const versionId = randomUUID();
await hsm.generateSymmetricKey({ versionId, label: 'bench' });

// The raw baseline: the same library, initialised once in this process (the adapter did it).
const p11 = new pkcs11js.PKCS11();
p11.load(LIBRARY);
const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === 'bench')!;
const sessions = Array.from({ length: 4 }, () => p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
const rawKey = p11.C_GenerateKey(sessions[0]!, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, aes256KeyTemplate({ versionId: randomUUID(), label: 'raw' }));
const plaintext = randomBytes(1024);
const mechanism = () => ({
  mechanism: pkcs11js.CKM_AES_GCM,
  parameter: { type: pkcs11js.CK_PARAMS_AES_GCM_v240, iv: randomBytes(12), aad: Buffer.alloc(0), ivBits: 96, tagBits: 128 } as pkcs11js.GcmParams,
});

const results = [];
results.push(await measure('raw pkcs11js sync', 1, () => {
  p11.C_EncryptInit(sessions[0]!, mechanism(), rawKey);
  return p11.C_Encrypt(sessions[0]!, plaintext, Buffer.alloc(1040));
}));
// One session per call in flight: PKCS#11 allows one active operation per session.
results.push(await measure('raw pkcs11js async', 4, async (worker) => {
  const session = sessions[worker]!;
  p11.C_EncryptInit(session, mechanism(), rawKey);
  return p11.C_EncryptAsync(session, plaintext, Buffer.alloc(1040));
}));
results.push(await measure(`Hsm.encrypt (${hsm.profile.name} profile)`, 1, () => hsm.encrypt(versionId, plaintext, Buffer.alloc(0))));

const baseline = results[0]!.opsPerSecond;
console.log(`AES-256-GCM 1 KiB encrypt, ${seconds} s each, ${new Date().toISOString()}`);
console.log('| operation | in flight | ops/s | ratio to raw sync |');
console.log('|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.inFlight} | ${r.opsPerSecond} | ${(r.opsPerSecond / baseline).toFixed(2)} |`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/hsm-symmetric.json', JSON.stringify({ date: new Date().toISOString(), seconds, results }, null, 2));
for (const session of sessions) p11.C_CloseSession(session);
await hsm.close();
