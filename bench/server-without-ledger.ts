/**
 * Bench only: the service as `p11kms serve --data-dir DIR --listen ADDR` wires it, except that
 * requests are recorded by a log sink (pino to /dev/null) instead of the hash-chained ledger.
 * bench/run.ts runs the same Encrypt load against it and against the real server, in turns, to
 * measure what the ledger costs end to end (issue 8: ledger on vs a bench-only pipeline without it).
 */
import { resolve } from 'node:path';
import { pino } from 'pino';
import { LogAuditSink } from '../src/adapters/log/log-audit-sink.js';
import { createLogger } from '../src/adapters/log/logger.js';
import { tuneGarbageCollection } from '../src/cli/gc-tuning.js';
import { initDataDir } from '../src/cli/init.js';
import { configForDataDir } from '../src/config.js';
import { startService } from '../src/main.js';

const argument = (name: string) => {
  const index = process.argv.indexOf(name);
  return index < 0 ? undefined : process.argv[index + 1];
};
const init = await initDataDir(resolve(argument('--data-dir') ?? './data'));
const config = { ...configForDataDir(init.layout.root, init.softhsmLibrary).config, listen: argument('--listen') ?? '127.0.0.1:0' };
tuneGarbageCollection();
const logger = createLogger(config.logLevel);
const service = await startService(config, logger, { requestAudit: new LogAuditSink(pino({ level: 'info' }, pino.destination('/dev/null'))) });
const address = `127.0.0.1:${service.port}`;
logger.info({ address }, `p11kms (bench only: requests not in the ledger) listening on ${address}`);
process.once('SIGTERM', () => void service.close().then(() => process.exit(0)));
