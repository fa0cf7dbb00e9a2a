import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync } from 'node:fs';
import { access, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  DEFAULT_ACCOUNT,
  DEFAULT_TOKEN_LABEL,
  SOFTHSM2_LIBRARY_CANDIDATES,
  dataDirLayout,
  type DataDirLayout,
} from './data-dir.js';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type CertificateAndKey,
} from './pki.js';
import { SOFTHSM2_MECHANISMS_SETTING } from '../adapters/pkcs11/mechanisms.js';
import { parsePrincipal } from '../domain/principal.js';

/**
 * `p11kms init`: everything a single-machine deployment needs, in one data directory — a SoftHSM2
 * token with its PINs, and a development PKI for mutual TLS (DESIGN.md, "Scaling out").
 * Idempotent: each step runs only if its output is absent, so re-running repairs a partial
 * directory and never replaces a token, PIN or key that already exists.
 */

export interface InitOptions {
  /** Label of the SoftHSM2 token holding KMS keys; at most 32 characters (PKCS#11 CK_TOKEN_INFO.label). */
  readonly tokenLabel?: string;
  /** The principal of the admin client certificate; `arn:aws:iam::<DEFAULT_ACCOUNT>:root` by default. */
  readonly adminPrincipal?: string;
  /** Path of libsofthsm2.so; found among SOFTHSM2_LIBRARY_CANDIDATES when absent. */
  readonly softhsmLibrary?: string;
}

export interface InitResult {
  /** Paths of the directories and files this run created, in creation order; empty when nothing was missing. */
  readonly created: string[];
  /** Files init had written before and brought up to date (the SoftHSM2 configuration's mechanism list). */
  readonly updated: string[];
  readonly layout: DataDirLayout;
  /** The PKCS#11 module the service should load for this token. */
  readonly softhsmLibrary: string;
}

const INSTALL_HINT = 'Install SoftHSM2 and OpenSC, e.g. `apt-get install -y softhsm2 opensc`.';
/** PKCS#11 v2.40 §3.2, CK_TOKEN_INFO: `label` is 32 bytes, blank padded. */
const MAX_TOKEN_LABEL_LENGTH = 32;
const CA_VALID_DAYS = 3650;
const LEAF_VALID_DAYS = 365;
const PRIVATE_DIRECTORY_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;
const PUBLIC_FILE_MODE = 0o644;
// Long enough that softhsm2-util never hangs a CLI; token init takes well under a second.
const SOFTHSM2_UTIL_TIMEOUT_MS = 30_000;

export async function initDataDir(root: string, options: InitOptions = {}): Promise<InitResult> {
  const layout = dataDirLayout(root);
  const tokenLabel = options.tokenLabel ?? DEFAULT_TOKEN_LABEL;
  const adminPrincipal = options.adminPrincipal ?? `arn:aws:iam::${DEFAULT_ACCOUNT}:root`;
  validateTokenLabel(tokenLabel);
  // Checked now rather than when the admin certificate is issued, after the token already exists.
  if (parsePrincipal(adminPrincipal) === undefined) {
    throw new Error(`The admin principal ${JSON.stringify(adminPrincipal)} is not valid: expected an IAM ARN or a service principal.`);
  }

  // Check the tools first, so a machine without SoftHSM2 gets the install hint and an untouched directory.
  await runSofthsm2Util(['--version'], { env: process.env, secrets: [] });
  const softhsmLibrary = await findSofthsmLibrary(options.softhsmLibrary);

  const created: string[] = [];
  const updated: string[] = [];
  await makePrivateDirectory(layout.root, created);
  await makePrivateDirectory(layout.tokenDir, created);
  await writeSofthsmConfiguration(layout, created, updated);
  await initTokenIfAbsent(layout, tokenLabel, created);
  await initPkiIfAbsent(layout, adminPrincipal, created);
  return { created, updated, layout, softhsmLibrary };
}

/**
 * `p11kms issue-cert`: a client certificate for `principal`, signed by the data directory's CA, at
 * `<clientsDir>/<name>.pem` and `<name>.key`.
 */
export async function issueClientCertFiles(
  root: string,
  principal: string,
  name: string = fileNameForPrincipal(principal),
): Promise<{ cert: string; key: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > 200) {
    throw new Error(`Not a usable certificate name: ${JSON.stringify(name)}. Use letters, digits, '.', '_' and '-'.`);
  }
  const layout = dataDirLayout(root);
  const cert = join(layout.clientsDir, `${name}.pem`);
  const key = join(layout.clientsDir, `${name}.key`);
  // Check both before writing either: a refusal must leave the directory as it was.
  for (const path of [cert, key]) {
    if (await exists(path)) throw new Error(`${path} already exists; refusing to overwrite it. Choose another name.`);
  }
  const ca = await readCertificateAuthority(layout);
  const issued = await issueClientCertificate(ca, { principal, validDays: LEAF_VALID_DAYS });
  await mkdir(layout.clientsDir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  await writeCertificateAndKeyFiles({ cert, key }, issued, []);
  return { cert, key };
}

/**
 * The PIN the service logs in with, from an environment variable (when set and non-empty) or a
 * file. A file readable by anyone but its owner is refused: on a shared machine such a PIN is
 * already disclosed, and silently using it would hide that.
 */
export function readPin(source: { env?: string; file?: string }): string {
  if (source.env !== undefined) {
    const fromEnvironment = process.env[source.env];
    if (fromEnvironment !== undefined && fromEnvironment !== '') return withoutTrailingNewline(fromEnvironment);
  }
  if (source.file === undefined) {
    throw new Error(
      source.env === undefined
        ? 'No PIN source given: name an environment variable or a PIN file.'
        : `The environment variable ${source.env} is not set and no PIN file was given.`,
    );
  }
  return readPrivateFile(source.file);
}

function readPrivateFile(path: string): string {
  // fstat on the open descriptor, not stat on the path, so the file checked is the file read.
  let descriptor: number;
  try {
    descriptor = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (error) {
    throw new Error(`Cannot open the PIN file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`);
  }
  try {
    const status = fstatSync(descriptor);
    if (!status.isFile()) throw new Error(`The PIN file ${path} is not a regular file.`);
    if ((status.mode & 0o077) !== 0) {
      throw new Error(
        `The PIN file ${path} has mode ${(status.mode & 0o777).toString(8).padStart(4, '0')}; ` +
          `it must be readable by its owner only (chmod 600 ${path}).`,
      );
    }
    const currentUser = process.getuid?.();
    if (currentUser !== undefined && status.uid !== currentUser) {
      throw new Error(`The PIN file ${path} is owned by uid ${status.uid}, not by the current user (uid ${currentUser}).`);
    }
    const pin = withoutTrailingNewline(readFileSync(descriptor, 'utf8'));
    if (pin === '') throw new Error(`The PIN file ${path} is empty.`);
    return pin;
  } finally {
    closeSync(descriptor);
  }
}

const withoutTrailingNewline = (value: string): string => value.replace(/\r?\n+$/, '');

// ---------------------------------------------------------------------------------------------
// SoftHSM2 token

/**
 * The SoftHSM2 configuration of a token under `tokenDir`: what `init` writes, and what the tests'
 * and benches' own tokens use, so that they run on the token the service configures.
 */
export function softhsmConfiguration(tokenDir: string): string {
  return [
    `directories.tokendir = ${tokenDir}`,
    'objectstore.backend = file',
    'log.level = ERROR',
    // Tokens here are files that are never unplugged; don't advertise CKF_REMOVABLE_DEVICE.
    'slots.removable = false',
    // Only the mechanisms p11kms uses: fewer for SoftHSM2 to copy on every Init (MECHANISMS_IN_USE).
    SOFTHSM2_MECHANISMS_SETTING,
    '',
  ].join('\n');
}

const SOFTHSM2_CONF_HEADER = '# Written by `p11kms init`. Exported as SOFTHSM2_CONF before the PKCS#11 library loads.\n';
const MECHANISMS_LINE = /^slots\.mechanisms = .*\n/m;

/**
 * The SoftHSM2 configuration: written when absent; when init wrote it and nobody edited it since,
 * brought up to date. Its mechanism list changes with p11kms (a data dir made before the list was
 * cut had none, and so every Init copied SoftHSM2's 71 defaults; one made before a new key spec
 * would lack that spec's mechanism), so a file that differs from init's current one only in that
 * line is rewritten, through a temporary file and a rename. A file edited by hand is left alone.
 */
async function writeSofthsmConfiguration(layout: DataDirLayout, created: string[], updated: string[]): Promise<void> {
  const configuration = SOFTHSM2_CONF_HEADER + softhsmConfiguration(layout.tokenDir);
  if (!(await exists(layout.softhsmConf))) {
    await writeFileIfAbsent(layout.softhsmConf, configuration, PUBLIC_FILE_MODE, created);
    return;
  }
  const existing = await readFile(layout.softhsmConf, 'utf8');
  if (existing === configuration) return;
  if (existing.replace(MECHANISMS_LINE, '') !== configuration.replace(MECHANISMS_LINE, '')) return;
  // Replicas sharing a data dir may start together (in containers, with the same pid): each writes
  // its own temporary file, and whichever rename lands last leaves the same content.
  const temporary = `${layout.softhsmConf}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, configuration, { mode: PUBLIC_FILE_MODE, flag: 'wx' });
  await rename(temporary, layout.softhsmConf);
  updated.push(layout.softhsmConf);
}

async function initTokenIfAbsent(layout: DataDirLayout, tokenLabel: string, created: string[]): Promise<void> {
  const env = { ...process.env, SOFTHSM2_CONF: layout.softhsmConf };
  const { stdout: slots } = await runSofthsm2Util(['--show-slots'], { env, secrets: [] });
  const tokenExists = tokenLabelsIn(slots).includes(tokenLabel);
  const pinsExist = (await exists(layout.pinFile)) && (await exists(layout.soPinFile));

  if (tokenExists) {
    if (!pinsExist) {
      throw new Error(
        `The token "${tokenLabel}" exists in ${layout.tokenDir} but its PIN files are missing ` +
          `(${layout.pinFile}, ${layout.soPinFile}); restore them, or remove the token directory to start over.`,
      );
    }
    return;
  }

  // PINs go to disk before the token is made, so a crash in between leaves PINs without a token
  // (the next run reuses them) rather than a token nobody can log in to.
  const userPin = await pinFromFileOrNew(layout.pinFile, created);
  const securityOfficerPin = await pinFromFileOrNew(layout.soPinFile, created);
  // softhsm2-util accepts PINs only as arguments, so they sit in the process table for the
  // fraction of a second it runs (mount /proc with hidepid=2 on shared machines). What must not
  // happen is a PIN reaching a log: nothing here prints the arguments, and failures are reported
  // with the PINs masked.
  const tokenDirectoriesBefore = new Set(await readdir(layout.tokenDir));
  await runSofthsm2Util(
    ['--init-token', '--free', '--label', tokenLabel, '--so-pin', securityOfficerPin, '--pin', userPin],
    { env, secrets: [userPin, securityOfficerPin] },
  );
  // SoftHSM2's file backend keeps each token in a directory of its own under the token dir.
  for (const entry of await readdir(layout.tokenDir)) {
    if (!tokenDirectoriesBefore.has(entry)) created.push(join(layout.tokenDir, entry));
  }
}

/** The labels of initialised tokens in `softhsm2-util --show-slots` output (blank labels are free slots). */
function tokenLabelsIn(showSlotsOutput: string): string[] {
  return [...showSlotsOutput.matchAll(/^\s*Label:[ \t]*(.*)$/gm)]
    .map((match) => (match[1] ?? '').trimEnd())
    .filter((label) => label !== '');
}

async function pinFromFileOrNew(path: string, created: string[]): Promise<string> {
  if (await exists(path)) return readPin({ file: path });
  // 24 random bytes are exactly 32 base64url characters: 192 bits, and safe in any shell or config.
  const pin = randomBytes(24).toString('base64url');
  await writeFile(path, pin, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  created.push(path);
  return pin;
}

function validateTokenLabel(label: string): void {
  // SoftHSM2 pads labels with blanks, so leading/trailing blanks could never be matched again.
  if (label === '' || label !== label.trim() || Buffer.byteLength(label) > MAX_TOKEN_LABEL_LENGTH) {
    throw new Error(
      `Token label ${JSON.stringify(label)} must be 1 to ${MAX_TOKEN_LABEL_LENGTH} bytes without leading or trailing blanks.`,
    );
  }
}

async function findSofthsmLibrary(requested: string | undefined): Promise<string> {
  const candidates = requested === undefined ? SOFTHSM2_LIBRARY_CANDIDATES : [requested];
  for (const candidate of candidates) {
    if (await exists(candidate)) return candidate;
  }
  throw new Error(
    requested === undefined
      ? `The SoftHSM2 PKCS#11 library was not found (looked in ${SOFTHSM2_LIBRARY_CANDIDATES.join(', ')}). ${INSTALL_HINT}`
      : `The SoftHSM2 PKCS#11 library ${requested} does not exist. ${INSTALL_HINT}`,
  );
}

interface Softhsm2UtilRun {
  readonly env: NodeJS.ProcessEnv;
  /** Values to mask in any error message: the PINs on this command line. */
  readonly secrets: readonly string[];
}

async function runSofthsm2Util(args: string[], run: Softhsm2UtilRun): Promise<{ stdout: string }> {
  const mask = (text: string): string => run.secrets.reduce((masked, secret) => masked.split(secret).join('***'), text);
  // The error messages below name the subcommand only: Node's own error for a failed child
  // includes the whole command line, PINs and all, so it is never passed on (not even as `cause`).
  const subcommand = args[0] ?? '';
  return new Promise((resolve, reject) => {
    const child = spawn('softhsm2-util', args, {
      env: run.env,
      // stdin closed: on a bad PIN softhsm2-util prompts for one, which would hang a pipe forever.
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: SOFTHSM2_UTIL_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(`softhsm2-util was not found on PATH. ${INSTALL_HINT}`)
          : new Error(`softhsm2-util ${subcommand} could not be run: ${error.code ?? 'unknown error'}.`),
      );
    });
    child.on('close', (exitCode, signal) => {
      if (exitCode === 0) return resolve({ stdout });
      const reason = signal === null ? `exited with status ${exitCode}` : `was stopped by ${signal}`;
      const output = stderr.trim() || stdout.trim();
      reject(new Error(mask(`softhsm2-util ${subcommand} ${reason}${output ? `: ${output}` : '.'}`)));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Development PKI

async function initPkiIfAbsent(layout: DataDirLayout, adminPrincipal: string, created: string[]): Promise<void> {
  const caFiles = { cert: layout.caCert, key: layout.caKey };
  const serverFiles = { cert: layout.serverCert, key: layout.serverKey };
  const adminFiles = { cert: layout.adminCert, key: layout.adminKey };

  const caPresent = await pairPresent(caFiles);
  const serverPresent = await pairPresent(serverFiles);
  const adminPresent = await pairPresent(adminFiles);
  if (!caPresent && (serverPresent || adminPresent)) {
    // A new CA would not have signed the existing certificates, and the server would then reject
    // its own admin (or clients would reject the server) with a puzzling handshake error.
    throw new Error(
      `The CA (${layout.caCert}) is missing but certificates it issued remain; restore the CA, ` +
        `or remove ${dirname(layout.caCert)} to create a new PKI.`,
    );
  }

  await makePrivateDirectory(dirname(layout.caCert), created);
  await makePrivateDirectory(layout.clientsDir, created);

  const ca = caPresent
    ? await readCertificateAuthority(layout)
    : await writeCertificateAndKeyFiles(
        caFiles,
        await createCertificateAuthority({ commonName: 'p11kms development CA', validDays: CA_VALID_DAYS }),
        created,
      );
  if (!serverPresent) {
    const server = await issueServerCertificate(ca, {
      commonName: 'p11kms server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      validDays: LEAF_VALID_DAYS,
    });
    await writeCertificateAndKeyFiles(serverFiles, server, created);
  }
  if (!adminPresent) {
    const admin = await issueClientCertificate(ca, { principal: adminPrincipal, validDays: LEAF_VALID_DAYS });
    await writeCertificateAndKeyFiles(adminFiles, admin, created);
  }
}

interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

/** Both files of a pair present; one without the other is a half-written state we refuse to guess about. */
async function pairPresent(files: CertificateFiles): Promise<boolean> {
  const [certPresent, keyPresent] = [await exists(files.cert), await exists(files.key)];
  if (certPresent !== keyPresent) {
    const [present, missing] = certPresent ? [files.cert, files.key] : [files.key, files.cert];
    throw new Error(`${present} exists but ${missing} does not; remove ${present} and run init again.`);
  }
  return certPresent;
}

async function readCertificateAuthority(layout: DataDirLayout): Promise<CertificateAndKey> {
  try {
    return { certPem: await readFile(layout.caCert, 'utf8'), keyPem: await readFile(layout.caKey, 'utf8') };
  } catch (error) {
    throw new Error(
      `Cannot read the CA in ${dirname(layout.caCert)} (${(error as NodeJS.ErrnoException).code ?? 'error'}); run \`p11kms init\` first.`,
    );
  }
}

/**
 * Writes the key (0600) and then the certificate (0644), never over an existing file. If the
 * certificate cannot be written the key is removed again, so no half of a pair is left behind.
 */
async function writeCertificateAndKeyFiles(
  files: CertificateFiles,
  issued: CertificateAndKey,
  created: string[],
): Promise<CertificateAndKey> {
  await mkdir(dirname(files.key), { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  await writeFile(files.key, issued.keyPem, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  try {
    await writeFile(files.cert, issued.certPem, { mode: PUBLIC_FILE_MODE, flag: 'wx' });
  } catch (error) {
    await rm(files.key, { force: true });
    throw error;
  }
  created.push(files.key, files.cert);
  return issued;
}

// ---------------------------------------------------------------------------------------------
// Files

async function makePrivateDirectory(path: string, created: string[]): Promise<void> {
  const firstCreated = await mkdir(path, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  if (firstCreated !== undefined) created.push(path);
}

async function writeFileIfAbsent(path: string, content: string, mode: number, created: string[]): Promise<void> {
  if (await exists(path)) return;
  await writeFile(path, content, { mode, flag: 'wx' });
  created.push(path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** `arn:aws:iam::111122223333:role/Dev` → `arn-aws-iam-111122223333-role-Dev`. */
export function fileNameForPrincipal(principal: string): string {
  const slug = principal.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return slug === '' ? 'client' : slug.slice(0, 200);
}
