import { readFileSync } from 'node:fs';
import { Pkcs11Hsm } from './adapters/pkcs11/pkcs11-hsm.js';
import { LogAuditSink } from './adapters/log/log-audit-sink.js';
import { dependencyUnavailable } from './adapters/sql/postgres-pool.js';
import { auditPublicKey } from './audit/checkpoint.js';
import { auditPublicKeyPem, Checkpointer, hsmCheckpointSigner } from './audit/checkpointer.js';
import { Ledger, LedgerUnavailableError } from './audit/ledger.js';
import { CachingMetadataStore, IN_PROCESS_ONLY } from './adapters/cache/caching-metadata-store.js';
import { PostgresMetadataStore } from './adapters/sql/postgres.js';
import { PostgresKeyChangeListener } from './adapters/sql/postgres-key-changes.js';
import { PostgresLeaderElection, withPostgresLock } from './adapters/sql/postgres-leader-election.js';
import { PostgresLedgerStore } from './adapters/sql/postgres-ledger.js';
import { SETUP_LOCK_KEY } from './adapters/sql/postgres-migrations.js';
import { SqliteMetadataStore } from './adapters/sql/sqlite.js';
import { SqliteLedgerStore } from './adapters/sql/sqlite-ledger.js';
import type { LedgerAppendStore, LedgerReader } from './audit/ledger-store.js';
import { type LeaderElection, soleLeader } from './scheduler/leader-election.js';
import { LeaderDuties } from './scheduler/leader-duties.js';
import { auditOperations } from './operations/audit/index.js';
import type { AuditSink } from './ports/audit-sink.js';
import type { Logger } from './adapters/log/logger.js';
import { readPin } from './cli/init.js';
import { describeStore, type Config } from './config.js';
import { Pipeline } from './pipeline/pipeline.js';
import { PolicyAuthorizer } from './pipeline/policy-authorizer.js';
import { readIdentityPoliciesFile } from './identity-policies-file.js';
import { systemClock } from './ports/clock.js';
import { startGrpcServer } from './transport/grpc/server.js';
import { KeyLifecycleScheduler } from './scheduler/key-lifecycle-scheduler.js';

export interface RunningService {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Not reachable from the CLI or a config file: the audit of requests is never switched off in
 * production. bench/server-without-ledger.ts uses it to measure what the ledger costs (issue 8).
 */
export interface BenchOnlyWiring {
  /** Records requests instead of the ledger (which still opens, and still signs checkpoints). */
  readonly requestAudit: AuditSink;
}

/** Wiring: configuration → adapters → pipeline → server. The only module that knows them all. */
export async function startService(config: Config, logger: Logger, benchOnly?: BenchOnlyWiring): Promise<RunningService> {
  // The files the configuration names are read first: a missing or bad one stops the service
  // before it has touched the token or the store (no database made, no audit key generated).
  const identityPolicies = readIdentityPoliciesFile(
    config.identityPolicies === undefined ? undefined : { path: config.identityPolicies, mayBeAbsent: config.identityPoliciesMayBeAbsent },
    logger,
  );
  const tls = { caPem: readFileSync(config.tls.ca), certPem: readFileSync(config.tls.cert), keyPem: readFileSync(config.tls.key) };
  if (config.pkcs11.softhsmConf) process.env.SOFTHSM2_CONF = config.pkcs11.softhsmConf;
  const hsm = await Pkcs11Hsm.open({
    libraryPath: config.pkcs11.library,
    tokenLabel: config.pkcs11.tokenLabel,
    pin: readPin({ env: config.pkcs11.pinEnv, file: config.pkcs11.pinFile }),
    profile: config.pkcs11.profile as Parameters<typeof Pkcs11Hsm.open>[0]['profile'],
  });
  const stores = await openStores(config, logger);
  const { store, ledgerStore } = stores;
  // Found, or made once, in the token; replicas sharing a token make it one at a time.
  const { publicKeySpkiDer } = await stores.oneAtATime(() => hsm.ensureAuditSigningKey());
  const publicKeyPem = auditPublicKeyPem(publicKeySpkiDer);
  auditPublicKey(publicKeyPem); // refuses anything but P-256 before a single checkpoint is signed
  // The hash-chained ledger beside the key metadata (issue 6). Its commits go to the leader's
  // checkpointer (LeaderDuties, created below once the rest is wired).
  let duties: LeaderDuties | undefined;
  const ledger = await Ledger.open({
    store: ledgerStore,
    logger,
    maxBatchEntries: config.ledger.maxBatchEntries,
    onCommit: { committed: (head) => duties?.committed(head) },
  });
  const requestLog = config.accessLog ? new LogAuditSink(logger) : undefined;
  // Audit before answer: the entry is durable first; the log line after it is only an access log.
  // One handler on the ledger's promise, not an async wrapper: every request passes here.
  const thenLogged = (sink: AuditSink): AuditSink => ({
    record(event) {
      let recorded: Promise<void>;
      try {
        recorded = sink.record(event).catch(unavailableIfLedgerIs);
      } catch (error) {
        recorded = Promise.reject(error as Error);
      }
      // Off by default: then the answer waits for nothing more.
      return requestLog ? recorded.then(() => requestLog.record(event)) : recorded;
    },
  });
  const audit = benchOnly?.requestAudit ?? thenLogged(ledger);
  const scheduler = new KeyLifecycleScheduler({
    hsm,
    store,
    clock: systemClock,
    audit: thenLogged(ledger.sink('background')),
    logger,
    abandonKeyMaterialAfterMs: config.abandonKeyMaterialAfterSeconds * 1000,
  });
  const authorizer = new PolicyAuthorizer(store, config.partition);
  const stopWatchingIdentity = identityPolicies.applyTo(authorizer);
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
    tls,
    pipeline,
    audit: auditOperations({ ledger: ledgerStore, publicKeyPem }),
  });
  // The scheduler and the checkpointer run on one replica: the leader (always this one on SQLite).
  duties = new LeaderDuties({
    election: stores.election,
    scheduler,
    schedulerIntervalMs: config.schedulerIntervalSeconds * 1000,
    openCheckpointer: async () =>
      Checkpointer.open(
        {
          store: ledgerStore,
          signer: hsmCheckpointSigner(hsm),
          clock: systemClock,
          logger,
          everyEntries: config.ledger.checkpointEveryEntries,
          intervalMs: config.ledger.checkpointIntervalSeconds * 1000,
        },
        stores.shared ? await ledgerStore.readHead() : ledger.head,
      ),
    sharedHead: stores.shared ? () => ledgerStore.readHead() : undefined,
    logger,
  });
  const leaderDuties = duties;
  logger.info(
    { token: config.pkcs11.tokenLabel, profile: hsm.profile.name, store: describeStore(config.store) },
    'token ready',
  );
  return {
    port: server.port,
    async close() {
      await server.close();
      stopWatchingIdentity();
      await leaderDuties.stopScheduler();
      await ledger.close();
      await leaderDuties.close();
      await stores.close();
      await hsm.close();
    },
  };
}

interface Stores {
  /** Key metadata, behind this replica's cache. */
  readonly store: CachingMetadataStore;
  readonly ledgerStore: LedgerAppendStore & LedgerReader;
  readonly election: LeaderElection;
  /** Whether other processes write the same database (replicas on PostgreSQL). */
  readonly shared: boolean;
  /** Runs one-time set-up one process at a time (a no-op guard for a sole process). */
  oneAtATime<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The request fails (invariant 3); the database being away is worth a retry (UNAVAILABLE). */
function unavailableIfLedgerIs(error: unknown): never {
  if (error instanceof LedgerUnavailableError) throw dependencyUnavailable();
  throw error;
}

/**
 * SQLite (one process: the cache is invalidated by its own writes, and it always leads) or
 * PostgreSQL (replicas: the cache also listens for other replicas' changes, and one replica is
 * elected to run the scheduler and the checkpointer). Migrations run here, in both cases.
 */
async function openStores(config: Config, logger: Logger): Promise<Stores> {
  if ('sqlite' in config.store) {
    const metadata = SqliteMetadataStore.open(config.store.sqlite);
    const ledgerStore = await SqliteLedgerStore.open(config.store.sqlite);
    return {
      store: new CachingMetadataStore(metadata, IN_PROCESS_ONLY),
      ledgerStore,
      election: soleLeader(),
      shared: false,
      oneAtATime: (work) => work(),
      async close() {
        await ledgerStore.close();
        await metadata.close();
      },
    };
  }
  const url = config.store.postgres;
  const onIdleConnectionError = (error: Error) =>
    logger.warn({ error: error.message }, 'PostgreSQL connection lost; reconnecting on demand');
  const metadata = await PostgresMetadataStore.open(url, { onIdleConnectionError });
  const ledgerStore = await PostgresLedgerStore.open(url, { onIdleConnectionError });
  const changes = await PostgresKeyChangeListener.start(url, { stalenessMs: config.store.cacheStalenessMs, logger });
  const election = PostgresLeaderElection.start(url, { pollMs: config.leaderPollSeconds * 1000, logger });
  return {
    store: new CachingMetadataStore(metadata, changes),
    ledgerStore,
    election,
    shared: true,
    oneAtATime: (work) => withPostgresLock(url, SETUP_LOCK_KEY, work),
    async close() {
      await changes.close();
      await ledgerStore.close();
      await metadata.close();
    },
  };
}
