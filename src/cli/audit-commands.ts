import { createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { Pkcs11Hsm } from '../adapters/pkcs11/pkcs11-hsm.js';
import { exportPostgresLedger } from '../adapters/sql/postgres-ledger-export.js';
import { SqliteLedgerExport } from '../adapters/sql/sqlite-ledger-export.js';
import { auditPublicKeyPem } from '../audit/checkpointer.js';
import { readExportFile } from '../audit/export-format.js';
import { verifyExport, type VerifyProgress } from '../audit/verify.js';
import { configForDataDir, loadConfigFile, parseStoreOption, type Config, type StoreConfig } from '../config.js';
import { registerAuditClientCommands } from './audit-client-commands.js';
import { dataDirLayout, SOFTHSM2_LIBRARY_CANDIDATES } from './data-dir.js';
import { readPin } from './init.js';

type Run = (action: () => Promise<unknown>) => Promise<void>;

/**
 * `p11kms audit …` (issue 6, items 5–6): offline tools for compliance. `export` reads the SQLite
 * file directly rather than calling the server: it works with the service down, needs no client
 * certificate, and its read transaction gives one consistent snapshot even beside a running server.
 * `verify` needs only the export and the audit public key; `public-key` reads that key from the token.
 */
export function registerAuditCommands(program: Command, run: Run): void {
  const audit = program.command('audit').description('export and verify the hash-chained audit ledger, or read it through the server');

  audit
    .command('export')
    .description('write the ledger as JSON Lines (entries and signed checkpoints), read directly from the database')
    .option('--data-dir <dir>', 'data dir of a local server', './data')
    .option('--database <file>', 'the SQLite database (default: the data dir\'s p11kms.db)')
    .option('--config <file>', 'a service configuration naming the database')
    .option('--store <store>', 'sqlite:PATH or a postgres:// URL (the replicas\' shared database)')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((options: { dataDir: string; database?: string; config?: string; store?: string; out?: string }) =>
      run(async () => {
        const store: StoreConfig = options.store
          ? parseStoreOption(options.store)
          : options.database
            ? { sqlite: options.database }
            : options.config
              ? loadConfigFile(options.config).store
              : { sqlite: dataDirLayout(resolve(options.dataDir)).database };
        const counts = await exportLedger(store, options.out);
        return options.out === undefined ? undefined : { out: resolve(options.out), ...counts };
      }),
    );

  audit
    .command('verify')
    .description('verify an export offline: the hash chain and every checkpoint signature; exit code 0 only when valid')
    .argument('<export>', 'the JSON Lines export')
    .requiredOption('--public-key <pem>', 'the audit public key (PEM file)')
    .option('--progress', 'show a progress bar on stderr (default: when stderr is a terminal)')
    .option('--no-progress', 'never show a progress bar')
    .action(async (file: string, options: { publicKey: string; progress?: boolean }) => {
      try {
        const result = await verifyFile(file, readFileSync(options.publicKey), options.progress ?? process.stderr.isTTY === true);
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        process.exitCode = result.ok ? 0 : 1;
      } catch (error) {
        process.stderr.write(`${JSON.stringify({ Error: 'Error', Message: (error as Error).message })}\n`);
        process.exitCode = 1;
      }
    });

  audit
    .command('public-key')
    .description('print the audit public key (PEM) from the token (the key is created there once, at first use)')
    .option('--data-dir <dir>', 'data dir of a local server', './data')
    .option('--config <file>', 'a service configuration naming the token')
    .option('--out <file>', 'also write the PEM to this file')
    .action((options: { dataDir: string; config?: string; out?: string }) =>
      run(async () => {
        const pem = await readAuditPublicKey(options.config ? loadConfigFile(options.config) : dataDirConfig(options.dataDir));
        if (options.out) writeFileSync(options.out, pem);
        process.stdout.write(pem);
        return undefined;
      }),
    );
  registerAuditClientCommands(audit, run);
}

/** Streams the export to `out` (or stdout), with back-pressure; a million entries never sit in memory. */
async function exportLedger(store: StoreConfig, out: string | undefined): Promise<{ entries: number; checkpoints: number }> {
  const stream: Writable = out === undefined ? process.stdout : createWriteStream(out, { mode: 0o600 });
  const counts = { entries: 0, checkpoints: 0 };
  const write = async (lines: string[]) => {
    for (const line of lines) {
      if (line.startsWith('{"type":"checkpoint"')) counts.checkpoints++;
      else counts.entries++;
    }
    if (lines.length > 0 && !stream.write(`${lines.join('\n')}\n`)) await once(stream, 'drain');
  };
  try {
    if ('postgres' in store) {
      await exportPostgresLedger(store.postgres, write);
    } else {
      const ledger = SqliteLedgerExport.open(store.sqlite);
      try {
        let chunk: string[] = [];
        for (const line of ledger.lines()) {
          chunk.push(line);
          if (chunk.length === 1000) {
            await write(chunk);
            chunk = [];
          }
        }
        await write(chunk);
      } finally {
        ledger.close();
      }
    }
  } finally {
    if (stream !== process.stdout) {
      stream.end();
      await finished(stream);
    }
  }
  return counts;
}

export interface VerifyReport {
  readonly ok: boolean;
  /** Entry lines read: all of them when ok, up to the bad line otherwise. */
  readonly entries: number;
  readonly checkpoints: number;
  readonly firstBadSeq: number | null;
  readonly reason: string | null;
  readonly fault?: string;
  readonly line?: number;
  readonly head?: { readonly seq: number; readonly hash: string };
  readonly verifiedThrough: number;
}

async function verifyFile(file: string, publicKeyPem: Buffer, showProgress: boolean): Promise<VerifyReport> {
  if (!existsSync(file)) throw new Error(`no export at ${file}`);
  const progress = showProgress ? new ProgressBar(statSync(file).size) : undefined;
  const read = { entries: 0, checkpoints: 0, chars: 0 };
  async function* counted(lines: AsyncIterable<string>): AsyncIterable<string> {
    for await (const line of lines) {
      read.chars += line.length + 1;
      if (line.includes('"type":"checkpoint"')) read.checkpoints++;
      else if (line.length > 0) read.entries++;
      yield line;
    }
  }
  const result = await verifyExport(counted(readExportFile(file)), publicKeyPem, (p: VerifyProgress) =>
    progress?.update(read.chars, p),
  );
  progress?.done();
  if (result.ok) {
    return {
      ok: true,
      entries: result.entries,
      checkpoints: result.checkpoints,
      firstBadSeq: null,
      reason: null,
      head: result.head,
      verifiedThrough: result.verifiedThrough,
    };
  }
  return {
    ok: false,
    entries: read.entries,
    checkpoints: read.checkpoints,
    firstBadSeq: result.firstBadSeq,
    reason: result.reason,
    fault: result.fault,
    line: result.line,
    verifiedThrough: result.verifiedThrough,
  };
}

/** A one-line bar on stderr, redrawn with \r at most ten times a second. */
class ProgressBar {
  readonly #started = Date.now();
  #drawn = 0;

  constructor(private readonly totalBytes: number) {}

  update(bytesRead: number, progress: VerifyProgress): void {
    const now = Date.now();
    if (now - this.#drawn < 100) return;
    this.#drawn = now;
    const fraction = this.totalBytes === 0 ? 1 : Math.min(bytesRead / this.totalBytes, 0.999);
    const width = 30;
    const filled = Math.round(fraction * width);
    const rate = Math.round(progress.entries / Math.max((now - this.#started) / 1000, 0.001));
    process.stderr.write(
      `\rverifying [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%` +
        `  ${progress.entries.toLocaleString('en')} entries  ${rate.toLocaleString('en')}/s `,
    );
  }

  done(): void {
    if (this.#drawn > 0) process.stderr.write('\n');
  }
}

function dataDirConfig(dataDir: string): Config {
  const root = resolve(dataDir);
  const library = SOFTHSM2_LIBRARY_CANDIDATES.find((candidate) => existsSync(candidate));
  if (!existsSync(dataDirLayout(root).pinFile)) throw new Error(`${root} is not a data dir made by 'p11kms init'`);
  if (library === undefined) throw new Error('the SoftHSM2 PKCS#11 library was not found');
  return configForDataDir(root, library).config;
}

async function readAuditPublicKey(config: Config): Promise<string> {
  if (config.pkcs11.softhsmConf) process.env.SOFTHSM2_CONF = config.pkcs11.softhsmConf;
  const hsm = await Pkcs11Hsm.open({
    libraryPath: config.pkcs11.library,
    tokenLabel: config.pkcs11.tokenLabel,
    pin: readPin({ env: config.pkcs11.pinEnv, file: config.pkcs11.pinFile }),
    profile: config.pkcs11.profile as Parameters<typeof Pkcs11Hsm.open>[0]['profile'],
  });
  try {
    return auditPublicKeyPem((await hsm.ensureAuditSigningKey()).publicKeySpkiDer);
  } finally {
    await hsm.close();
  }
}
