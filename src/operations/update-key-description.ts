import { needs, validation } from '../domain/errors.js';
import { MAX_DESCRIPTION_LENGTH } from './create-key.js';
import { defineOperation } from './operation.js';

export interface UpdateKeyDescriptionRequest {
  readonly keyId?: string;
  readonly description?: string;
}

/** AWS KMS UpdateKeyDescription: up to 8,192 characters; the empty string clears it. */
export const updateKeyDescription = defineOperation<UpdateKeyDescriptionRequest, Record<string, never>, 'key'>({
  name: 'UpdateKeyDescription',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:UpdateKeyDescription', stateRules: 'UpdateKeyDescription' } },
  audit: (r) => ({ keyId: r.keyId }),
  validate(request) {
    needs(request.description !== undefined, () => validation('Description is required.'));
    needs(request.description.length <= MAX_DESCRIPTION_LENGTH, () =>
      validation(`Description must be at most ${MAX_DESCRIPTION_LENGTH} characters.`),
    );
  },
  async run(request, { store, keys: { key } }) {
    await store.updateDescription(key.id, request.description!);
    return {};
  },
});
