import { validateAliasName } from '../domain/alias.js';
import { KmsError } from '../domain/errors.js';
import { parseKeyReference } from '../domain/ids.js';
import { defineOperation } from './operation.js';

export interface CreateAliasRequest {
  readonly aliasName?: string;
  readonly targetKeyId?: string;
}

/** TargetKeyId is a key id or key ARN; AWS KMS does not let an alias name another alias. */
export function targetKeyReference(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return value;
  const kind = parseKeyReference(value, 'TargetKeyId').kind;
  if (kind === 'aliasName' || kind === 'aliasArn') {
    throw new KmsError('ValidationException', 'TargetKeyId must be a key id or key ARN, not an alias.');
  }
  return value;
}

/** AWS KMS CreateAlias: a friendly name, unique in the account, for one key. */
export const createAlias = defineOperation<CreateAliasRequest, Record<string, never>, 'key'>({
  name: 'CreateAlias',
  keys: {
    key: { ref: (r) => targetKeyReference(r.targetKeyId), field: 'TargetKeyId', action: 'kms:CreateAlias', stateRules: 'CreateAlias' },
  },
  audit: (r) => ({ aliasName: r.aliasName, targetKeyId: r.targetKeyId }),
  validate: (r) => void validateAliasName(r.aliasName),
  async run(request, { store, clock, keys: { key } }) {
    await store.createAlias({ aliasName: request.aliasName!, account: key.account, keyId: key.id, createdAt: clock.now() });
    return {};
  },
});
