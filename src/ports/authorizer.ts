import type { EncryptionContext } from '../domain/encryption-context.js';
import type { KeyRecord } from '../domain/key.js';
import type { Principal } from '../domain/principal.js';
import type { Awaitable } from './awaitable.js';

/** IAM condition keys and their values for one request (`kms:EncryptionContext:<k>`, `aws:SourceIp` …). */
export type ConditionValue = string | readonly string[] | boolean | number | undefined;
export type ConditionKeys = Readonly<Record<string, ConditionValue>>;

export interface AuthorizationRequest {
  readonly principal: Principal;
  /** The account the caller acts in: its own, or the service's default for service principals. */
  readonly callerAccount: string;
  readonly action: string;
  /** The key the action is on; undefined for CreateKey, ListKeys, ListAliases and GenerateRandom. */
  readonly key: KeyRecord | undefined;
  readonly conditions: ConditionKeys;
  /** The condition keys of `key` (kms:KeySpec, kms:ResourceAliases, aws:ResourceTag/…), over `conditions`. */
  readonly keyConditions?: ConditionKeys | undefined;
  /** The request's encryption context, for grant constraints; undefined where the operation takes none. */
  readonly encryptionContext: EncryptionContext | undefined;
  /** RetireGrant only: the grant being retired. */
  readonly grantToRetire?: GrantToRetire | undefined;
}

/**
 * AWS KMS RetireGrant: "the retiring principal … or the grantee principal, if the grant includes
 * the RetireGrant operation" may retire a grant whatever the key policy says.
 */
export interface GrantToRetire {
  readonly grantId: string;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string | undefined;
  readonly operations: readonly string[];
}

export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** What decided it (a statement, a grant, a rule); for the audit trail and server log, never the caller. */
  readonly reason: string;
}

/** The one place where "may this principal do this" is decided (DESIGN.md, invariant 2). */
export interface Authorizer {
  /** A decision now when everything it needs is at hand (see Awaitable), else a promise of one. */
  authorize(request: AuthorizationRequest): Awaitable<AuthorizationDecision>;
}
