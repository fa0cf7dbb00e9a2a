#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { isKmsError } from '../domain/errors.js';
import { createLogger } from '../adapters/log/logger.js';
import { configForDataDir, loadConfigFile, parseStoreOption, type Config } from '../config.js';
import { startService } from '../main.js';
import { registerClientCommands } from './client-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { registerPolicyCommands } from './policy-commands.js';
import { initDataDir, issueClientCertFiles } from './init.js';
import { tuneGarbageCollection } from './gc-tuning.js';

const program = new Command('p11kms')
  .description('An AWS KMS-compatible key management service whose keys live in a PKCS#11 token')
  .showHelpAfterError();

/** Runs a command and prints its result as JSON; errors go to stderr as {Error, Message}. */
async function run(action: () => Promise<unknown>): Promise<void> {
  try {
    const result = await action();
    if (result !== undefined) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    const name = isKmsError(error) ? error.name : 'Error';
    process.stderr.write(`${JSON.stringify({ Error: name, Message: (error as Error).message })}\n`);
    process.exitCode = 1;
  }
}

program
  .command('init')
  .description('create a SoftHSM2 token, a development CA, a server and an admin client certificate (where absent)')
  .option('--data-dir <dir>', 'where to keep everything', './data')
  .option('--token-label <label>', 'token label', 'p11kms')
  .option('--admin-principal <arn>', 'principal of the admin client certificate')
  .action((options: { dataDir: string; tokenLabel: string; adminPrincipal?: string }) =>
    run(async () => {
      const result = await initDataDir(resolve(options.dataDir), {
        tokenLabel: options.tokenLabel,
        adminPrincipal: options.adminPrincipal,
      });
      return { dataDir: result.layout.root, created: result.created, updated: result.updated, softhsmLibrary: result.softhsmLibrary };
    }),
  );

program
  .command('issue-cert')
  .description('issue a client certificate for a principal from the data dir CA')
  .requiredOption('--principal <arn>', 'IAM ARN or service principal, e.g. arn:aws:iam::111122223333:role/Dev')
  .option('--data-dir <dir>', 'data dir made by init', './data')
  .option('--name <name>', 'file name (default: derived from the principal)')
  .action((options: { dataDir: string; principal: string; name?: string }) =>
    run(async () => issueClientCertFiles(resolve(options.dataDir), options.principal, options.name)),
  );

program
  .command('serve')
  .description('start the gRPC server (initialising the data dir first when no --config is given)')
  .option('--data-dir <dir>', 'embedded defaults: SQLite and a SoftHSM2 token under this dir', './data')
  .option('--config <file>', 'JSON configuration for your own token, CA and store (see README)')
  .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)')
  .option('--store <store>', 'sqlite:PATH (default: the data dir\'s p11kms.db) or postgres://… shared by replicas')
  .option('--access-log', 'also log one line per request (the audit ledger records every request either way)')
  .action(async (options: { dataDir: string; config?: string; listen?: string; store?: string; accessLog?: boolean }) => {
    let config: Config;
    let endpointFile: string | undefined;
    let updated: readonly string[] = [];
    if (options.config) {
      config = loadConfigFile(options.config);
    } else {
      const init = await initDataDir(resolve(options.dataDir));
      const derived = configForDataDir(init.layout.root, init.softhsmLibrary);
      config = derived.config;
      endpointFile = derived.layout.endpointFile;
      updated = init.updated;
    }
    if (options.listen) config = { ...config, listen: options.listen };
    if (options.accessLog) config = { ...config, accessLog: true };
    if (options.store) {
      try {
        config = { ...config, store: parseStoreOption(options.store) };
      } catch (error) {
        process.stderr.write(`${(error as Error).message}\n`);
        process.exit(2);
      }
    }
    tuneGarbageCollection();
    const logger = createLogger(config.logLevel);
    if (updated.length > 0) logger.info({ updated }, 'brought files init had written up to date');
    try {
      const service = await startService(config, logger);
      const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
      const address = `${host}:${service.port}`;
      if (endpointFile) writeFileSync(endpointFile, `${address}\n`);
      logger.info({ address }, `p11kms listening on ${address}`);
      const stop = async (signal: string) => {
        logger.info({ signal }, 'shutting down');
        await service.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    } catch (error) {
      logger.fatal({ err: error }, 'failed to start');
      process.exit(1);
    }
  });

registerClientCommands(program, run);
registerAuditCommands(program, run);
registerPolicyCommands(program, run);

await program.parseAsync(process.argv);
