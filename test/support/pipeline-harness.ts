import { randomUUID } from 'node:crypto';
import { Pkcs11Hsm } from '../../src/adapters/pkcs11/pkcs11-hsm.js';
import { SqliteMetadataStore } from '../../src/adapters/sql/sqlite.js';
import type { AnyOperation } from '../../src/operations/operation.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { PolicyAuthorizer } from '../../src/pipeline/policy-authorizer.js';
import { parseIdentityPolicies } from '../../src/policy/identity-policy-set.js';
import type { AuditEvent, AuditSink } from '../../src/ports/audit-sink.js';
import type { Clock } from '../../src/ports/clock.js';
import { KeyLifecycleScheduler } from '../../src/scheduler/key-lifecycle-scheduler.js';
import { freshToken, type TestToken } from './softhsm.js';

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const ADMIN = `arn:aws:iam::${ACCOUNT}:root`;
export const DEVELOPER = `arn:aws:iam::${ACCOUNT}:role/DeveloperRole`;
export const OUTSIDER = `arn:aws:iam::${OTHER_ACCOUNT}:role/DeveloperRole`;

/** An audit sink that keeps events in memory, and can be told to fail (with a rejection, or by throwing at once). */
export class RecordingAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  failing = false;
  throwing = false;

  record(event: AuditEvent): Promise<void> {
    if (this.throwing) throw new Error('ledger unavailable at once');
    if (this.failing) return Promise.reject(new Error('ledger unavailable'));
    this.events.push(event);
    return Promise.resolve();
  }
}

export interface PipelineHarness {
  readonly token: TestToken;
  readonly hsm: Pkcs11Hsm;
  readonly store: SqliteMetadataStore;
  readonly audit: RecordingAuditSink;
  readonly clock: Clock & { advance(ms: number): void };
  readonly logged: Array<{ level: string; fields: object; message: string }>;
  /** The server's scheduler on the same clock; `crashBetweenDeletionSteps` makes its next deletion fail midway. */
  readonly scheduler: KeyLifecycleScheduler;
  crashBetweenDeletionSteps: boolean;
  readonly authorizer: PolicyAuthorizer;
  /** Runs an operation as `principal` (an ARN in the client certificate's URI SAN). */
  call<Res = Record<string, any>>(operation: AnyOperation, request: object, principal?: string, onBehalfOf?: string): Promise<Res>;
  close(): Promise<void>;
}

/** The real pipeline on a fresh SoftHSM2 token and a SQLite file; no network. */
/**
 * The identity policies of the harness: DeveloperRole may do anything KMS allows it in its own
 * account (the key policies still decide for keys); everyone else has none.
 */
export const DEFAULT_IDENTITY_POLICIES = JSON.stringify({
  policies: { DeveloperFull: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] } },
  attachments: { [DEVELOPER]: ['DeveloperFull'], [OUTSIDER]: ['DeveloperFull'] },
});

export async function pipelineHarness(identityPolicies = DEFAULT_IDENTITY_POLICIES): Promise<PipelineHarness> {
  const token = freshToken();
  const hsm = await Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.pin });
  const store = SqliteMetadataStore.open(`${token.dir}/p11kms.db`);
  const audit = new RecordingAuditSink();
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
  const logged: PipelineHarness['logged'] = [];
  const logger = {
    info: (fields: object, message: string) => logged.push({ level: 'info', fields, message }),
    warn: (fields: object, message: string) => logged.push({ level: 'warn', fields, message }),
    error: (fields: object, message: string) => logged.push({ level: 'error', fields, message }),
  };
  const authorizer = new PolicyAuthorizer(store, 'aws');
  authorizer.useIdentityPolicies(parseIdentityPolicies(identityPolicies, 'the test harness'));
  const pipeline = new Pipeline({
    services: { hsm, store, clock, policies: authorizer, location: { partition: 'aws', region: 'us-east-1' } },
    authorizer,
    trustsOnBehalfOf: (service) => authorizer.trustsOnBehalfOf(service),
    audit,
    logger,
    defaultAccount: ACCOUNT,
  });
  const harness: PipelineHarness = {
    token,
    hsm,
    store,
    audit,
    clock,
    logged,
    crashBetweenDeletionSteps: false,
    scheduler: new KeyLifecycleScheduler({
      hsm,
      store,
      clock,
      audit,
      logger,
      betweenDeletionSteps: async () => {
        if (harness.crashBetweenDeletionSteps) throw new Error('simulated crash between deletion steps');
      },
    }),
    authorizer,
    call: (operation, request, principal = ADMIN, onBehalfOf = undefined) =>
      pipeline.execute(operation, request, {
        requestId: randomUUID(),
        peerIdentities: principal ? [principal] : [],
        sourceAddress: '127.0.0.1:50000',
        onBehalfOf,
      }),
    async close() {
      await store.close();
      await hsm.close();
    },
  };
  return harness;
}
