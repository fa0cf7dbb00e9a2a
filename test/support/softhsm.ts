import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { dataDirLayout } from '../../src/cli/data-dir.js';
import { softhsmConfiguration } from '../../src/cli/init.js';
import { tempDir } from './temp-dirs.js';

export const SOFTHSM2_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

export interface TestToken {
  readonly dir: string;
  readonly conf: string;
  readonly libraryPath: string;
  readonly tokenLabel: string;
  readonly pin: string;
}

/**
 * A fresh SoftHSM2 token in its own directory for one test file. SOFTHSM2_CONF is set for this
 * process before the library is first loaded; vitest runs each file in its own process.
 */
export function freshToken(label = 'p11kms-test'): TestToken {
  const dir = tempDir('p11kms-token-');
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, softhsmConfiguration(tokenDir));
  const pin = randomBytes(12).toString('hex');
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', randomBytes(12).toString('hex'), '--pin', pin],
    { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' },
  );
  process.env.SOFTHSM2_CONF = conf;
  return { dir, conf, libraryPath: SOFTHSM2_LIBRARY, tokenLabel: label, pin };
}

/** The token of a data dir made by `p11kms init` (label "p11kms", its PIN file). */
export function dataDirToken(dataDir: string): TestToken {
  const layout = dataDirLayout(dataDir);
  return {
    dir: layout.tokenDir,
    conf: layout.softhsmConf,
    libraryPath: SOFTHSM2_LIBRARY,
    tokenLabel: 'p11kms',
    pin: readFileSync(layout.pinFile, 'utf8').trim(),
  };
}

/** OpenSC's independent view of the token's objects (`pkcs11-tool --list-objects`). */
export function listObjectsWithPkcs11Tool(token: TestToken): string {
  return execFileSync(
    'pkcs11-tool',
    ['--module', token.libraryPath, '--token-label', token.tokenLabel, '--login', '--pin', token.pin, '--list-objects'],
    { env: { ...process.env, SOFTHSM2_CONF: token.conf }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/**
 * The process's own view of a test token through pkcs11js, beside an adapter under test: session
 * objects are visible to every session of the application that made them (PKCS#11 v2.40 §4.4), and
 * so is its login (§5.6). It never finalises the library, which the adapter shares.
 */
export function rawTokenSession(token: TestToken): { p11: pkcs11js.PKCS11; session: Buffer } {
  const p11 = new pkcs11js.PKCS11();
  p11.load(token.libraryPath);
  try {
    p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(String(error))) throw error;
  }
  const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === token.tokenLabel)!;
  return { p11, session: p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION) };
}
