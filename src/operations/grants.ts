import { randomBytes } from 'node:crypto';
import { KmsError, needs, validation } from '../domain/errors.js';
import { validateEncryptionContext } from '../domain/encryption-context.js';
import type { KeyRecord, KeyUsage } from '../domain/key.js';
import { parsePrincipal } from '../domain/principal.js';
import { GRANT_OPERATIONS } from '../policy/grants.js';
import type { GrantConstraintsRecord, GrantRecord } from '../ports/metadata-store.js';

/** AWS KMS CreateGrant: Name is 1–256 of [a-zA-Z0-9:/_-]. */
const GRANT_NAME = /^[a-zA-Z0-9:/_-]{1,256}$/;

/** Operations a grant may allow on every key (AWS KMS Developer Guide, "Grant operations"). */
const COMMON_GRANT_OPERATIONS = ['CreateGrant', 'RetireGrant', 'DescribeKey'];

/** The grant operations each kind of key takes, by key usage; symmetric encryption keys apart. */
const SYMMETRIC_GRANT_OPERATIONS = new Set([
  ...COMMON_GRANT_OPERATIONS,
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
]);
const GRANT_OPERATIONS_BY_USAGE: Readonly<Record<KeyUsage, ReadonlySet<string>>> = {
  ENCRYPT_DECRYPT: new Set([...COMMON_GRANT_OPERATIONS, 'Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey']),
  SIGN_VERIFY: new Set([...COMMON_GRANT_OPERATIONS, 'Sign', 'Verify', 'GetPublicKey']),
  GENERATE_VERIFY_MAC: new Set([...COMMON_GRANT_OPERATIONS, 'GenerateMac', 'VerifyMac']),
  KEY_AGREEMENT: new Set([...COMMON_GRANT_OPERATIONS, 'DeriveSharedSecret', 'GetPublicKey']),
};

function grantOperationsFor(key: KeyRecord): ReadonlySet<string> {
  return key.keySpec === 'SYMMETRIC_DEFAULT' ? SYMMETRIC_GRANT_OPERATIONS : GRANT_OPERATIONS_BY_USAGE[key.keyUsage];
}

export function validatePrincipalField(value: string | undefined, field: string, required: boolean): void {
  if (value === undefined || value === '') {
    needs(!required, () => validation(`${field} is required.`));
    return;
  }
  needs(value.length <= 256 && parsePrincipal(value) !== undefined, () =>
    validation(`${field} must be an IAM ARN (role, user, root, assumed-role session) or a service principal.`),
  );
}

export function validateGrantOperations(operations: readonly string[] | undefined): void {
  needs(operations !== undefined && operations.length > 0, () => validation('Operations is required.'));
  for (const operation of operations) {
    needs((GRANT_OPERATIONS as readonly string[]).includes(operation), () => validation(`Unknown grant operation ${operation}.`));
  }
}

export function validateGrantName(name: string | undefined): void {
  needs(name === undefined || name === '' || GRANT_NAME.test(name), () =>
    validation('Name must be 1 to 256 letters, digits, ":", "/", "_" or "-".'),
  );
}

/** Constraints: EncryptionContextEquals or EncryptionContextSubset, each within the context limits. */
export function validateConstraints(constraints: GrantConstraintsRecord | undefined): void {
  if (!constraints) return;
  const { encryptionContextEquals: equals, encryptionContextSubset: subset } = constraints;
  needs(!(hasPairs(equals) && hasPairs(subset)), () =>
    validation('Constraints may hold EncryptionContextEquals or EncryptionContextSubset, not both.'),
  );
  if (equals) validateEncryptionContext(equals, 'EncryptionContextEquals');
  if (subset) validateEncryptionContext(subset, 'EncryptionContextSubset');
}

export function checkOperationsFitKey(operations: readonly string[], key: KeyRecord): void {
  const fit = grantOperationsFor(key);
  const unfit = operations.filter((operation) => !fit.has(operation));
  needs(unfit.length === 0, () =>
    validation(`Grant operations ${unfit.join(', ')} are not valid for ${key.arn} (${key.keySpec}).`),
  );
}

/** Proto maps arrive as {} when absent; a constraint with no pairs is no constraint. */
export function normaliseConstraints(constraints: GrantConstraintsRecord | undefined): GrantConstraintsRecord | undefined {
  if (!constraints) return undefined;
  const result: { encryptionContextEquals?: Record<string, string>; encryptionContextSubset?: Record<string, string> } = {};
  if (hasPairs(constraints.encryptionContextEquals)) result.encryptionContextEquals = { ...constraints.encryptionContextEquals };
  if (hasPairs(constraints.encryptionContextSubset)) result.encryptionContextSubset = { ...constraints.encryptionContextSubset };
  return Object.keys(result).length > 0 ? result : undefined;
}

const hasPairs = (context: Readonly<Record<string, string>> | undefined) => context !== undefined && Object.keys(context).length > 0;

/** A new grant id (64 hex digits, as AWS KMS's) and an opaque grant token. */
export function newGrantIdentity(): { grantId: string; grantToken: string } {
  return { grantId: randomBytes(32).toString('hex'), grantToken: randomBytes(48).toString('base64url') };
}

/** GrantListEntry (AWS KMS API reference). */
export function grantListEntry(grant: GrantRecord) {
  return {
    keyId: grant.keyId,
    grantId: grant.grantId,
    name: grant.name,
    creationDate: grant.createdAt,
    granteePrincipal: grant.granteePrincipal,
    retiringPrincipal: grant.retiringPrincipal,
    issuingAccount: grant.issuingAccount,
    operations: [...grant.operations],
    constraints: grant.constraints,
  };
}

export function grantNotFound(grantId: string | undefined): KmsError {
  return new KmsError('NotFoundException', `Grant ${grantId ?? ''} is not found.`);
}
