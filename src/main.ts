import { readFileSync } from 'node:fs';
import { Pkcs11Hsm } from './adapters/pkcs11/pkcs11-hsm.js';
import { SqliteMetadataStore } from './adapters/sql/sqlite.js';
import { LogAuditSink } from './adapters/log/log-audit-sink.js';
import type { Logger } from './adapters/log/logger.js';
import { readPin } from './cli/init.js';
import type { Config } from './config.js';
import { Pipeline } from './pipeline/pipeline.js';
import { accountBoundaryAuthorizer } from './policy/account-boundary.js';
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
  const audit = new LogAuditSink(logger);
  const scheduler = new KeyLifecycleScheduler({ hsm, store, clock: systemClock, audit, logger });
  const pipeline = new Pipeline({
    services: {
      hsm,
      store,
      clock: systemClock,
      location: { partition: config.partition, region: config.region },
    },
    authorizer: accountBoundaryAuthorizer,
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
  });
  scheduler.start(config.schedulerIntervalSeconds * 1000);
  logger.info({ token: config.pkcs11.tokenLabel, profile: hsm.profile.name }, 'token ready');
  return {
    port: server.port,
    async close() {
      await server.close();
      await scheduler.stop();
      await store.close();
      await hsm.close();
    },
  };
}
