import type { KeyRecord } from '../domain/key.js';
import type { Principal } from '../domain/principal.js';

export interface AuthorizationRequest {
  readonly principal: Principal;
  /** The account the caller acts in: its own, or the service's default for service principals. */
  readonly callerAccount: string;
  readonly action: string;
  /** The key the action is on; undefined for CreateKey, ListKeys and GenerateRandom. */
  readonly key: KeyRecord | undefined;
}

export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** What decided it (a statement, a grant, a rule); for the audit trail and server log, never the caller. */
  readonly reason: string;
}

/** The one place where "may this principal do this" is decided (DESIGN.md, invariant 2). */
export interface Authorizer {
  authorize(request: AuthorizationRequest): AuthorizationDecision;
}
