import type { EncryptionContext } from '../../domain/encryption-context.js';
import { GRANT_ID_PATTERN, type GrantConstraintsRecord, type GrantRecord } from '../../ports/metadata-store.js';

/**
 * Grant rules both SQL stores share, so that SQLite and PostgreSQL answer CreateGrant's
 * idempotency and the grant listings' markers alike (as list-markers.ts does for every listing).
 */

/** A marker's position must name a possible grant id; anything else was not made by a grant listing. */
export const isGrantId = (value: string): boolean => GRANT_ID_PATTERN.test(value);

/**
 * Whether a CreateGrant retry asks for `existing` again (GrantStore.createGrant documents the
 * rule): the same grantee, retiring principal, issuing account, set of operations and constraints.
 * Name and key are matched by the caller's query.
 */
export function sameGrantParameters(existing: GrantRecord, requested: GrantRecord): boolean {
  return (
    existing.granteePrincipal === requested.granteePrincipal &&
    existing.retiringPrincipal === requested.retiringPrincipal &&
    existing.issuingAccount === requested.issuingAccount &&
    sameSet(existing.operations, requested.operations) &&
    sameContext(existing.constraints?.encryptionContextEquals, requested.constraints?.encryptionContextEquals) &&
    sameContext(existing.constraints?.encryptionContextSubset, requested.constraints?.encryptionContextSubset)
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((item) => right.has(item));
}

function sameContext(a: EncryptionContext | undefined, b: EncryptionContext | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const entries = Object.entries(a);
  return (
    entries.length === Object.keys(b).length &&
    entries.every(([key, value]) => Object.prototype.hasOwnProperty.call(b, key) && b[key] === value)
  );
}

/**
 * The constraints as a JSON column: only the two members GrantConstraints has, each exactly as
 * given; null when the grant has none. An empty object stays an empty object.
 */
export function constraintsToJson(constraints: GrantConstraintsRecord | undefined): string | null {
  if (constraints === undefined) return null;
  const stored: { encryptionContextEquals?: EncryptionContext; encryptionContextSubset?: EncryptionContext } = {};
  if (constraints.encryptionContextEquals !== undefined) stored.encryptionContextEquals = constraints.encryptionContextEquals;
  if (constraints.encryptionContextSubset !== undefined) stored.encryptionContextSubset = constraints.encryptionContextSubset;
  return JSON.stringify(stored);
}
