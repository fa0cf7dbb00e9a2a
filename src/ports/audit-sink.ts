import type { AuthorizationDecision } from './authorizer.js';

/**
 * What the pipeline records for every request, allowed or denied, succeeded or failed
 * (DESIGN.md, invariant 3). Never holds plaintext, data keys, private keys or PINs.
 */
export interface AuditEvent {
  readonly requestId: string;
  readonly time: Date;
  readonly operation: string;
  readonly principalArn: string | undefined;
  readonly principalAccount: string | undefined;
  readonly sourceAddress: string;
  readonly keyArns: readonly string[];
  /** Request parameters an operation chose to record: ids, encryption context, algorithms. */
  readonly parameters: Readonly<Record<string, unknown>>;
  /** 'Success', or the AWS exception name (KMSInternalException for unexpected failures). */
  readonly outcome: string;
  readonly decision: AuthorizationDecision | undefined;
  readonly durationMs: number;
  /**
   * 'background' for work the service did by itself (scheduled rotation, deletion). When absent,
   * the sink decides: the pipeline's records requests, the scheduler's is wired for background work.
   */
  readonly kind?: 'request' | 'background';
}

/** Records an event durably before the response leaves; a failure must fail the request. */
export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
}
