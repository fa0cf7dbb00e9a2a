import { validateAliasName } from '../domain/alias.js';
import { KmsError, needs } from '../domain/errors.js';
import { defineOperation } from './operation.js';
import { targetKeyReference } from './create-alias.js';

export interface UpdateAliasRequest {
  readonly aliasName?: string;
  readonly targetKeyId?: string;
}

/**
 * AWS KMS UpdateAlias: points an alias at another key of the same account, key spec and usage,
 * so that code using the alias keeps working.
 */
export const updateAlias = defineOperation<UpdateAliasRequest, Record<string, never>, 'current' | 'target'>({
  name: 'UpdateAlias',
  keys: {
    current: { ref: (r) => r.aliasName, field: 'AliasName', action: 'kms:UpdateAlias', stateRules: 'UpdateAliasCurrentKey' },
    target: { ref: (r) => targetKeyReference(r.targetKeyId), field: 'TargetKeyId', action: 'kms:UpdateAlias', stateRules: 'UpdateAlias' },
  },
  audit: (r) => ({ aliasName: r.aliasName, targetKeyId: r.targetKeyId }),
  validate: (r) => void validateAliasName(r.aliasName),
  async run(request, { store, clock, keys: { current, target } }) {
    needs(current.account === target.account, () =>
      new KmsError('ValidationException', 'The alias and the target key must be in the same account.'),
    );
    needs(current.keySpec === target.keySpec && current.keyUsage === target.keyUsage, () =>
      new KmsError(
        'ValidationException',
        `The target key must have the same key spec and usage as ${current.arn} (${current.keySpec}, ${current.keyUsage}).`,
      ),
    );
    await store.updateAlias(current.account, request.aliasName!, target.id, clock.now());
    return {};
  },
});
