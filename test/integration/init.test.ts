import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TOKEN_LABEL, dataDirLayout, type DataDirLayout } from '../../src/cli/data-dir.js';
import { MECHANISMS_IN_USE, SOFTHSM2_MECHANISMS_SETTING } from '../../src/adapters/pkcs11/mechanisms.js';
import { initDataDir, issueClientCertFiles, readPin, type InitResult } from '../../src/cli/init.js';

const run = promisify(execFile);
const SOFTHSM2_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

let workspace: string;
let layout: DataDirLayout;
let firstRun: InitResult;

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'p11kms-init-'));
  firstRun = await initDataDir(join(workspace, 'data'));
  layout = firstRun.layout;
});

afterAll(() => {
  rmSync(workspace, { recursive: true, force: true });
});

const modeOf = (path: string): number => statSync(path).mode & 0o777;

function softhsmEnv(conf: string): NodeJS.ProcessEnv {
  return { ...process.env, SOFTHSM2_CONF: conf };
}

async function tokenLabels(conf: string): Promise<string[]> {
  const { stdout } = await run('softhsm2-util', ['--show-slots'], { env: softhsmEnv(conf) });
  return [...stdout.matchAll(/^\s*Label:[ \t]*(\S.*?)\s*$/gm)].map((match) => match[1] ?? '');
}

/** Runs `fn` with PATH holding only `directory`, so `softhsm2-util` resolves to whatever is there. */
async function withPathOnly<T>(directory: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = directory;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe('initDataDir', () => {
  it('creates every file and directory of the layout that init owns', () => {
    const owned = [
      layout.root,
      layout.softhsmConf,
      layout.tokenDir,
      layout.pinFile,
      layout.soPinFile,
      layout.caCert,
      layout.caKey,
      layout.serverCert,
      layout.serverKey,
      layout.adminCert,
      layout.adminKey,
      layout.clientsDir,
    ];
    for (const path of owned) {
      expect(existsSync(path), path).toBe(true);
      expect(firstRun.created, path).toContain(path);
    }
    // The token itself: one directory of SoftHSM2's file backend under the token dir.
    expect(firstRun.created.filter((path) => path.startsWith(`${layout.tokenDir}/`))).toHaveLength(1);
    expect(firstRun.softhsmLibrary).toBe(SOFTHSM2_LIBRARY);
  });

  it('keeps directories, PINs and private keys private', () => {
    for (const directory of [layout.root, layout.tokenDir, layout.clientsDir]) {
      expect(modeOf(directory), directory).toBe(0o700);
    }
    for (const secret of [layout.pinFile, layout.soPinFile, layout.caKey, layout.serverKey, layout.adminKey]) {
      expect(modeOf(secret), secret).toBe(0o600);
    }
  });

  it('writes two different 32-character url-safe PINs', () => {
    const userPin = readFileSync(layout.pinFile, 'utf8');
    const securityOfficerPin = readFileSync(layout.soPinFile, 'utf8');
    expect(userPin).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(securityOfficerPin).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(userPin).not.toBe(securityOfficerPin);
  });

  it('writes a SoftHSM2 configuration pointing at the token dir', () => {
    const lines = readFileSync(layout.softhsmConf, 'utf8').split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        `directories.tokendir = ${layout.tokenDir}`,
        'objectstore.backend = file',
        'log.level = ERROR',
        'slots.removable = false',
        SOFTHSM2_MECHANISMS_SETTING,
      ]),
    );
  });

  it('makes a token that offers exactly the mechanisms p11kms uses (SoftHSM2 ignores a name it does not know)', async () => {
    const { stdout } = await run('pkcs11-tool', ['--module', SOFTHSM2_LIBRARY, '--list-mechanisms'], {
      env: softhsmEnv(layout.softhsmConf),
    });
    const offered = stdout.split('\n').filter((line) => /^\s+\S/.test(line)).map((line) => line.trim().split(',')[0]);
    expect(offered).toHaveLength(Object.keys(MECHANISMS_IN_USE).length);
    expect(offered).toEqual(expect.arrayContaining(['AES-GCM', 'SHA256-HMAC', 'RSA-PKCS-PSS', 'ECDSA', 'ECDH1-DERIVE', 'EDDSA']));
    // A mechanism SoftHSM2 offers by default and p11kms never uses is off.
    expect(offered).not.toContain('AES-CBC');
  });

  it('creates exactly one token with the default label', async () => {
    expect(await tokenLabels(layout.softhsmConf)).toEqual([DEFAULT_TOKEN_LABEL]);
  });

  it('creates a token that pkcs11-tool can log in to with the written PIN, and not with another', async () => {
    const listObjects = (pin: string) =>
      run(
        'pkcs11-tool',
        ['--module', SOFTHSM2_LIBRARY, '--token-label', DEFAULT_TOKEN_LABEL, '--login', '--pin', pin, '--list-objects'],
        { env: softhsmEnv(layout.softhsmConf) },
      );
    await expect(listObjects(readPin({ file: layout.pinFile }))).resolves.toMatchObject({ stdout: expect.any(String) });
    await expect(listObjects('not-the-pin')).rejects.toThrow(/CKR_PIN_INCORRECT/);
  });

  it('issues a CA, a loopback server certificate and a root admin certificate that chain to it', () => {
    const ca = new X509Certificate(readFileSync(layout.caCert));
    const server = new X509Certificate(readFileSync(layout.serverCert));
    const admin = new X509Certificate(readFileSync(layout.adminCert));
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(admin.verify(ca.publicKey)).toBe(true);
    expect(admin.subjectAltName).toBe('URI:arn:aws:iam::111122223333:root');
  });

  it('creates nothing on a second run, and leaves the PINs and CA as they were', async () => {
    const pinBefore = readFileSync(layout.pinFile, 'utf8');
    const caBefore = readFileSync(layout.caCert, 'utf8');
    const secondRun = await initDataDir(layout.root);
    expect(secondRun.created).toEqual([]);
    expect(secondRun.updated).toEqual([]);
    expect(readFileSync(layout.pinFile, 'utf8')).toBe(pinBefore);
    expect(readFileSync(layout.caCert, 'utf8')).toBe(caBefore);
    expect(await tokenLabels(layout.softhsmConf)).toEqual([DEFAULT_TOKEN_LABEL]);
  });

  it('brings its own SoftHSM2 configuration up to date: without a mechanism list, or with another one', async () => {
    const current = readFileSync(layout.softhsmConf, 'utf8');
    const tokenBefore = await tokenLabels(layout.softhsmConf);
    // What init wrote before the mechanism list (2620e33), and the same with SoftHSM2's whole list.
    const withoutList = current.replace(`${SOFTHSM2_MECHANISMS_SETTING}\n`, '');
    expect(withoutList).not.toBe(current);
    for (const earlier of [withoutList, current.replace(SOFTHSM2_MECHANISMS_SETTING, 'slots.mechanisms = ALL')]) {
      writeFileSync(layout.softhsmConf, earlier);
      const rerun = await initDataDir(layout.root);
      expect(rerun.updated).toEqual([layout.softhsmConf]);
      expect(rerun.created).toEqual([]);
      expect(readFileSync(layout.softhsmConf, 'utf8')).toBe(current);
      expect(modeOf(layout.softhsmConf)).toBe(0o644);
    }
    // The token and its objects do not depend on the list: the same token, now offering only p11kms's mechanisms.
    expect(await tokenLabels(layout.softhsmConf)).toEqual(tokenBefore);
    const { stdout } = await run('pkcs11-tool', ['--module', SOFTHSM2_LIBRARY, '--list-mechanisms'], {
      env: softhsmEnv(layout.softhsmConf),
    });
    expect(stdout).not.toContain('AES-CBC');
  });

  it('leaves a SoftHSM2 configuration edited by hand as it is', async () => {
    const current = readFileSync(layout.softhsmConf, 'utf8');
    const edited = current.replace('log.level = ERROR', 'log.level = DEBUG').replace(`${SOFTHSM2_MECHANISMS_SETTING}\n`, '');
    writeFileSync(layout.softhsmConf, edited);
    try {
      const rerun = await initDataDir(layout.root);
      expect(rerun.updated).toEqual([]);
      expect(readFileSync(layout.softhsmConf, 'utf8')).toBe(edited);
    } finally {
      writeFileSync(layout.softhsmConf, current);
    }
  });

  it('recreates only a missing certificate pair, signed by the existing CA', async () => {
    rmSync(layout.serverCert);
    rmSync(layout.serverKey);
    const repair = await initDataDir(layout.root);
    expect(repair.created).toEqual([layout.serverKey, layout.serverCert]);
    const ca = new X509Certificate(readFileSync(layout.caCert));
    expect(new X509Certificate(readFileSync(layout.serverCert)).verify(ca.publicKey)).toBe(true);
  });

  it('refuses to guess when a certificate is present without its key', async () => {
    const keyPem = readFileSync(layout.adminKey);
    rmSync(layout.adminKey);
    try {
      await expect(initDataDir(layout.root)).rejects.toThrow(`${layout.adminCert} exists but ${layout.adminKey} does not`);
    } finally {
      writeFileSync(layout.adminKey, keyPem, { mode: 0o600 });
    }
  });

  it('uses the token label and admin principal it is given', async () => {
    const custom = await initDataDir(join(workspace, 'custom'), {
      tokenLabel: 'ci-token',
      adminPrincipal: 'arn:aws:iam::444455556666:role/Admin',
    });
    expect(await tokenLabels(custom.layout.softhsmConf)).toEqual(['ci-token']);
    const admin = new X509Certificate(readFileSync(custom.layout.adminCert));
    expect(admin.subjectAltName).toBe('URI:arn:aws:iam::444455556666:role/Admin');
  });

  it('rejects a token label longer than PKCS#11 allows before touching the disk', async () => {
    const root = join(workspace, 'long-label');
    await expect(initDataDir(root, { tokenLabel: 'x'.repeat(33) })).rejects.toThrow(/1 to 32 bytes/);
    expect(existsSync(root)).toBe(false);
  });

  it('rejects an invalid admin principal before touching the disk', async () => {
    const root = join(workspace, 'bad-admin');
    await expect(initDataDir(root, { adminPrincipal: 'admin' })).rejects.toThrow(/admin principal "admin" is not valid/);
    expect(existsSync(root)).toBe(false);
  });

  it('says how to install SoftHSM2 when softhsm2-util is missing, and creates nothing', async () => {
    const emptyDirectory = mkdtempSync(join(workspace, 'empty-path-'));
    const root = join(workspace, 'no-softhsm');
    await expect(withPathOnly(emptyDirectory, () => initDataDir(root))).rejects.toThrow(
      /apt-get install -y softhsm2 opensc/,
    );
    expect(existsSync(root)).toBe(false);
  });

  it('masks the PINs in the error when token initialisation fails, and reuses them on the next run', async () => {
    // A stand-in softhsm2-util that fails --init-token and echoes its arguments, PINs included.
    const fakeBin = mkdtempSync(join(workspace, 'fake-bin-'));
    writeFileSync(
      join(fakeBin, 'softhsm2-util'),
      [
        '#!/bin/sh',
        'case "$1" in',
        '  --version) echo 2.6.1 ;;',
        '  --show-slots) echo "Available slots:" ;;',
        '  *) echo "ERROR: cannot initialise with $*" >&2; exit 3 ;;',
        'esac',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const root = join(workspace, 'failing-token');
    const failure = await withPathOnly(fakeBin, () => initDataDir(root)).then(
      () => undefined,
      (error: Error) => error,
    );
    const { pinFile, soPinFile, softhsmConf } = dataDirLayout(root);
    const userPin = readFileSync(pinFile, 'utf8');
    const securityOfficerPin = readFileSync(soPinFile, 'utf8');
    expect(failure?.message).toMatch(/^softhsm2-util --init-token exited with status 3: ERROR: cannot initialise/);
    expect(failure?.message).toContain('--so-pin *** --pin ***');
    expect(failure?.message).not.toContain(userPin);
    expect(failure?.message).not.toContain(securityOfficerPin);
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toContain(userPin);

    // PINs were written before use, so the real tool now makes the token with those same PINs.
    const retry = await initDataDir(root);
    expect(retry.created).not.toContain(pinFile);
    expect(readFileSync(pinFile, 'utf8')).toBe(userPin);
    expect(await tokenLabels(softhsmConf)).toEqual([DEFAULT_TOKEN_LABEL]);
  });
});

describe('readPin', () => {
  it('rejects a PIN file others can read, naming the file but not the PIN', () => {
    const file = join(workspace, 'pin-0644');
    writeFileSync(file, 'secret-pin-value\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    let error: Error | undefined;
    try {
      readPin({ file });
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).toContain(file);
    expect(error?.message).toContain('0644');
    expect(error?.message).not.toContain('secret-pin-value');
  });

  it('rejects a group-readable PIN file too', () => {
    const file = join(workspace, 'pin-0640');
    writeFileSync(file, 'secret', { mode: 0o640 });
    chmodSync(file, 0o640);
    expect(() => readPin({ file })).toThrow(file);
  });

  it('accepts a 0600 PIN file and drops the trailing newline', () => {
    const file = join(workspace, 'pin-0600');
    writeFileSync(file, 'secret-pin-value\n', { mode: 0o600 });
    expect(readPin({ file })).toBe('secret-pin-value');
  });

  it('prefers a set environment variable, and falls back to the file when it is unset', () => {
    const file = join(workspace, 'pin-fallback');
    writeFileSync(file, 'from-file', { mode: 0o600 });
    process.env.P11KMS_TEST_PIN = 'from-env';
    try {
      expect(readPin({ env: 'P11KMS_TEST_PIN', file })).toBe('from-env');
    } finally {
      delete process.env.P11KMS_TEST_PIN;
    }
    expect(readPin({ env: 'P11KMS_TEST_PIN', file })).toBe('from-file');
    expect(() => readPin({ env: 'P11KMS_TEST_PIN' })).toThrow(/P11KMS_TEST_PIN is not set/);
  });

  it('rejects a PIN file owned by another user', () => {
    const file = join(workspace, 'pin-foreign');
    writeFileSync(file, 'secret', { mode: 0o600 });
    if (process.getuid?.() !== 0) {
      // Only root can give a file away; elsewhere, show that is why this case cannot be staged.
      expect(() => chownSync(file, 65534, 65534)).toThrow(/EPERM/);
      return;
    }
    chownSync(file, 65534, 65534);
    expect(() => readPin({ file })).toThrow(`The PIN file ${file} is owned by uid 65534`);
  });

  it('names a missing file without inventing a PIN', () => {
    const file = join(workspace, 'no-such-pin');
    expect(() => readPin({ file })).toThrow(`Cannot open the PIN file ${file}: ENOENT`);
  });
});

describe('issueClientCertFiles', () => {
  const principal = 'arn:aws:iam::111122223333:role/DeveloperRole';

  it('issues a certificate whose URI SAN is the principal, signed by the data dir CA', async () => {
    const { cert, key } = await issueClientCertFiles(layout.root, principal);
    expect(cert).toBe(join(layout.clientsDir, 'arn-aws-iam-111122223333-role-DeveloperRole.pem'));
    expect(key).toBe(join(layout.clientsDir, 'arn-aws-iam-111122223333-role-DeveloperRole.key'));
    const certificate = new X509Certificate(readFileSync(cert));
    expect(certificate.subjectAltName).toBe(`URI:${principal}`);
    expect(certificate.verify(new X509Certificate(readFileSync(layout.caCert)).publicKey)).toBe(true);
    expect(modeOf(key)).toBe(0o600);
    expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('refuses to overwrite an existing certificate and leaves it unchanged', async () => {
    const existing = join(layout.clientsDir, 'arn-aws-iam-111122223333-role-DeveloperRole.pem');
    const before = readFileSync(existing, 'utf8');
    await expect(issueClientCertFiles(layout.root, principal)).rejects.toThrow(/already exists; refusing to overwrite/);
    expect(readFileSync(existing, 'utf8')).toBe(before);
  });

  it('uses the name it is given, and refuses one that is not a plain file name', async () => {
    const { cert } = await issueClientCertFiles(layout.root, 's3.amazonaws.com', 's3');
    expect(cert).toBe(join(layout.clientsDir, 's3.pem'));
    expect(new X509Certificate(readFileSync(cert)).subjectAltName).toBe('URI:s3.amazonaws.com');
    await expect(issueClientCertFiles(layout.root, principal, '../escape')).rejects.toThrow(/Not a usable certificate name/);
  });

  it('refuses an invalid principal and writes nothing', async () => {
    await expect(issueClientCertFiles(layout.root, 'not-a-principal', 'bogus')).rejects.toThrow(/Not a valid principal/);
    expect(existsSync(join(layout.clientsDir, 'bogus.key'))).toBe(false);
  });
});
