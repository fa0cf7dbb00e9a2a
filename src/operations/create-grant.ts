import type { GrantConstraintsRecord } from '../ports/metadata-store.js';
import { MAX_GRANTS_PER_KEY } from '../ports/metadata-store.js';
import { dryRunDone } from '../domain/errors.js';
import { defineOperation } from './operation.js';
import {
  checkOperationsFitKey,
  newGrantIdentity,
  normaliseConstraints,
  validateConstraints,
  validateGrantName,
  validateGrantOperations,
  validatePrincipalField,
} from './grants.js';

export interface CreateGrantRequest {
  readonly keyId?: string;
  readonly granteePrincipal?: string;
  readonly retiringPrincipal?: string;
  readonly operations?: readonly string[];
  readonly constraints?: GrantConstraintsRecord;
  readonly grantTokens?: readonly string[];
  readonly name?: string;
}

/**
 * AWS KMS CreateGrant: lets the grantee call the listed operations on the key, with optional
 * encryption-context constraints. Usable at once (the same store serves every request). A retry
 * with the same Name and parameters returns the original grant.
 */
export const createGrant = defineOperation<CreateGrantRequest, { grantToken: string; grantId: string }, 'key'>({
  name: 'CreateGrant',
  dryRun: true,
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:CreateGrant', stateRules: 'CreateGrant' } },
  conditions: (r) => ({
    keys: {
      'kms:GrantOperations': r.operations ?? [],
      'kms:GranteePrincipal': r.granteePrincipal,
      'kms:RetiringPrincipal': r.retiringPrincipal || undefined,
      'kms:GrantIsForAWSResource': false,
    },
  }),
  audit: (r) => ({
    keyId: r.keyId,
    granteePrincipal: r.granteePrincipal,
    retiringPrincipal: r.retiringPrincipal,
    operations: r.operations,
    constraints: r.constraints,
    name: r.name,
  }),
  validate(request) {
    validatePrincipalField(request.granteePrincipal, 'GranteePrincipal', true);
    validatePrincipalField(request.retiringPrincipal, 'RetiringPrincipal', false);
    validateGrantOperations(request.operations);
    validateConstraints(request.constraints);
    validateGrantName(request.name);
  },
  async run(request, { store, clock, caller, dryRun, keys: { key } }) {
    checkOperationsFitKey(request.operations!, key);
    if (dryRun) throw dryRunDone();
    const stored = await store.createGrant(
      {
        ...newGrantIdentity(),
        keyId: key.id,
        account: key.account,
        name: request.name || undefined,
        granteePrincipal: request.granteePrincipal!,
        retiringPrincipal: request.retiringPrincipal || undefined,
        operations: [...request.operations!],
        constraints: normaliseConstraints(request.constraints),
        issuingAccount: `arn:aws:iam::${caller.account}:root`,
        createdAt: clock.now(),
      },
      { maxGrantsPerKey: MAX_GRANTS_PER_KEY },
    );
    return { grantToken: stored.grantToken, grantId: stored.grantId };
  },
});
