import { readFileSync } from 'node:fs';
import { Pkcs11Hsm } from './adapters/pkcs11/pkcs11-hsm.js';
import { SqliteMetadataStore } from './adapters/sql/sqlite.js';
import { LogAuditSink } from './adapters/log/log-audit-sink.js';
import { SqliteLedgerStore } from './adapters/sql/sqlite-ledger.js';
import { openAuditLedger } from './audit/audit-ledger.js';
import { auditOperations } from './operations/audit/index.js';
import type { AuditSink } from './ports/audit-sink.js';
import type { Logger } from './adapters/log/logger.js';
import { readPin } from './cli/init.js';
import type { Config } from './config.js';
import { Pipeline } from './pipeline/pipeline.js';
import { PolicyAuthorizer } from './pipeline/policy-authorizer.js';
import { loadIdentityPolicies } from './identity-policies-file.js';
import { systemClock } from './ports/clock.js';
import { startGrpcServer } from './transport/grpc/server.js';
import { KeyLifecycleScheduler } from './scheduler/key-lifecycle-scheduler.js';

export interface RunningService {
  readonly port: number;
  close(): Promise<void>;
}

/** Wiring: configuration → adapters → pipeline → server. The only module that knows them all. */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  if (config.pkcs11.softhsmConf) process.env.SOFTHSM2_CONF = config.pkcs11.softhsmConf;
  const hsm = await Pkcs11Hsm.open({
    libraryPath: config.pkcs11.library,
    tokenLabel: config.pkcs11.tokenLabel,
    pin: readPin({ env: config.pkcs11.pinEnv, file: config.pkcs11.pinFile }),
    profile: config.pkcs11.profile as Parameters<typeof Pkcs11Hsm.open>[0]['profile'],
  });
  const store = SqliteMetadataStore.open(config.store.sqlite);
  // The hash-chained ledger in the same SQLite file (issue 6); the checkpoint key lives in the token.
  const ledgerStore = await SqliteLedgerStore.open(config.store.sqlite);
  const ledger = await openAuditLedger({
    store: ledgerStore,
    hsm,
    clock: systemClock,
    logger,
    settings: {
      checkpointEveryEntries: config.ledger.checkpointEveryEntries,
      checkpointIntervalMs: config.ledger.checkpointIntervalSeconds * 1000,
      maxBatchEntries: config.ledger.maxBatchEntries,
    },
  });
  const requestLog = new LogAuditSink(logger);
  // Audit before answer: the entry is durable first; the log line after it is only an access log.
  const thenLogged = (sink: AuditSink): AuditSink => ({
    async record(event) {
      await sink.record(event);
      await requestLog.record(event);
    },
  });
  const audit = thenLogged(ledger.ledger);
  const scheduler = new KeyLifecycleScheduler({
    hsm,
    store,
    clock: systemClock,
    audit: thenLogged(ledger.ledger.sink('background')),
    logger,
  });
  const authorizer = new PolicyAuthorizer(store, config.partition);
  const stopWatchingIdentity = loadIdentityPolicies(config.identityPolicies, authorizer, logger);
  const pipeline = new Pipeline({
    services: {
      hsm,
      store,
      policies: authorizer,
      clock: systemClock,
      location: { partition: config.partition, region: config.region },
    },
    authorizer,
    trustsOnBehalfOf: (service) => authorizer.trustsOnBehalfOf(service),
    audit,
    logger,
    defaultAccount: config.defaultAccount,
  });
  const server = await startGrpcServer({
    listen: config.listen,
    tls: {
      caPem: readFileSync(config.tls.ca),
      certPem: readFileSync(config.tls.cert),
      keyPem: readFileSync(config.tls.key),
    },
    pipeline,
    audit: auditOperations({ ledger: ledgerStore, publicKeyPem: ledger.publicKeyPem }),
  });
  scheduler.start(config.schedulerIntervalSeconds * 1000);
  logger.info({ token: config.pkcs11.tokenLabel, profile: hsm.profile.name }, 'token ready');
  return {
    port: server.port,
    async close() {
      await server.close();
      stopWatchingIdentity();
      await scheduler.stop();
      await ledger.close();
      await ledgerStore.close();
      await store.close();
      await hsm.close();
    },
  };
}
