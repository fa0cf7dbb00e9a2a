import { validateAliasName } from '../domain/alias.js';
import { defineOperation } from './operation.js';

export interface DeleteAliasRequest {
  readonly aliasName?: string;
}

/** AWS KMS DeleteAlias: the key itself is untouched. */
export const deleteAlias = defineOperation<DeleteAliasRequest, Record<string, never>, 'key'>({
  name: 'DeleteAlias',
  keys: { key: { ref: (r) => r.aliasName, field: 'AliasName', action: 'kms:DeleteAlias', stateRules: 'DeleteAlias' } },
  audit: (r) => ({ aliasName: r.aliasName }),
  validate: (r) => void validateAliasName(r.aliasName),
  async run(request, { store, keys: { key } }) {
    await store.deleteAlias(key.account, request.aliasName!);
    return {};
  },
});
