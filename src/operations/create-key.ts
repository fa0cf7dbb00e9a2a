import { KmsError, needs, validation } from '../domain/errors.js';
import { keyArn, newKeyId, newKeyVersionId } from '../domain/ids.js';
import { KEY_SPECS, KEY_USAGES, type KeyOrigin, type KeyRecord, type KeySpec, type KeyUsage, type Tag } from '../domain/key.js';
import { usagesFor } from '../domain/key-spec-facts.js';
import { defineOperation } from './operation.js';
import { keyMetadata, type KeyMetadata } from './key-metadata.js';
import { withNewKeyMaterial } from './key-material.js';
import { requestTagConditions, validateTags } from './tags.js';
import { validatePolicySize } from './key-policy.js';

export interface CreateKeyRequest {
  readonly description?: string;
  readonly keyUsage?: KeyUsage;
  readonly keySpec?: KeySpec;
  /** AWS KMS's deprecated name for KeySpec, still accepted: the same setting under its old name. */
  readonly customerMasterKeySpec?: KeySpec;
  readonly origin?: KeyOrigin | string;
  readonly tags?: readonly Tag[];
  /** The key policy; the AWS default key policy (the account root gets kms:*) when absent. */
  readonly policy?: string;
  readonly bypassPolicyLockoutSafetyCheck?: boolean;
}

export interface CreateKeyResponse {
  readonly keyMetadata: KeyMetadata;
}

export const MAX_DESCRIPTION_LENGTH = 8192;

/** AWS KMS CreateKey. The key material is generated inside the token and never leaves it. */
export const createKey = defineOperation<CreateKeyRequest, CreateKeyResponse>({
  name: 'CreateKey',
  action: 'kms:CreateKey',
  keys: {},
  conditions: (request) => ({
    keys: {
      ...requestTagConditions(request.tags ?? []),
      'kms:KeySpec': specOf(request),
      'kms:KeyUsage': request.keyUsage ?? 'ENCRYPT_DECRYPT',
      'kms:KeyOrigin': request.origin ?? 'AWS_KMS',
      'kms:BypassPolicyLockoutSafetyCheck': request.bypassPolicyLockoutSafetyCheck === true,
    },
  }),
  resultKeyArns: (response) => [response.keyMetadata.arn],
  audit: (request) => ({
    keySpec: request.keySpec,
    customerMasterKeySpec: request.customerMasterKeySpec,
    keyUsage: request.keyUsage,
    tagKeys: request.tags?.map((t) => t.tagKey),
    policyGiven: request.policy !== undefined,
    bypassPolicyLockoutSafetyCheck: request.bypassPolicyLockoutSafetyCheck,
  }),
  validate(request) {
    needs((request.description ?? '').length <= MAX_DESCRIPTION_LENGTH, () =>
      validation(`Description must be at most ${MAX_DESCRIPTION_LENGTH} characters.`),
    );
    needs(request.keySpec === undefined || KEY_SPECS.includes(request.keySpec), () => validation('Unknown KeySpec.'));
    needs(request.customerMasterKeySpec === undefined || KEY_SPECS.includes(request.customerMasterKeySpec), () =>
      validation('Unknown CustomerMasterKeySpec.'),
    );
    const { keySpec, customerMasterKeySpec } = request;
    needs(keySpec === undefined || customerMasterKeySpec === undefined || keySpec === customerMasterKeySpec, () =>
      validation('KeySpec and CustomerMasterKeySpec are one setting under two names; give one, or the same value in both.'),
    );
    needs(request.keyUsage === undefined || KEY_USAGES.includes(request.keyUsage), () => validation('Unknown KeyUsage.'));
    const spec = specOf(request);
    const usage = request.keyUsage ?? 'ENCRYPT_DECRYPT';
    // AWS KMS CreateKey: KeyUsage defaults to ENCRYPT_DECRYPT, which HMAC and ECC specs do not take.
    needs(usagesFor(spec).includes(usage), () =>
      validation(`KeyUsage ${usage} is not compatible with KeySpec ${spec}; it takes ${usagesFor(spec).join(' or ')}.`),
    );
    needs(request.origin === undefined || request.origin === 'AWS_KMS', () =>
      new KmsError('UnsupportedOperationException', `Origin ${request.origin} is not supported; keys are generated in the token.`),
    );
    validateTags(request.tags ?? []);
    validatePolicySize(request.policy);
  },
  async run(request, { hsm, store, clock, location, caller, policies }) {
    const keySpec = specOf(request);
    const keyUsage = request.keyUsage ?? 'ENCRYPT_DECRYPT';
    needs(hsm.capabilities.supportsKey(keySpec, keyUsage), () =>
      new KmsError('UnsupportedOperationException', `KeySpec ${keySpec} with KeyUsage ${keyUsage} is not supported by the HSM token of this service.`),
    );
    const id = newKeyId();
    const arn = keyArn(location, caller.account, id);
    const policy = request.policy ?? policies.defaultPolicy(caller.account);
    if (request.policy !== undefined) {
      // Only a policy the caller wrote can lock it out; the default one delegates to the account.
      policies.validate(policy);
      policies.checkLockout({
        principal: caller.principal,
        callerAccount: caller.account,
        conditions: caller.conditions,
        keyArn: arn,
        keyAccount: caller.account,
        policy,
        bypass: request.bypassPolicyLockoutSafetyCheck === true,
      });
    }
    const versionId = newKeyVersionId();
    const now = clock.now();
    const key: KeyRecord = {
      id,
      arn,
      account: caller.account,
      keySpec,
      keyUsage,
      origin: 'AWS_KMS',
      description: request.description ?? '',
      state: 'Enabled',
      createdAt: now,
      deletionDate: undefined,
      currentVersionId: versionId,
    };
    await withNewKeyMaterial(
      hsm,
      store,
      { versionId, keyId: id, recordedAt: now },
      () => hsm.generateKey({ versionId, label: `p11kms:${id}:${versionId}`, keySpec, keyUsage }),
      () =>
        store.createKey({
          key,
          version: { id: versionId, keyId: id, createdAt: now },
          tags: request.tags ?? [],
          policy,
        }),
    );
    return { keyMetadata: keyMetadata(key, hsm.capabilities) };
  },
});

/** The key spec asked for, under either of its names (KeySpec, or the deprecated CustomerMasterKeySpec). */
function specOf(request: CreateKeyRequest): KeySpec {
  return request.keySpec ?? request.customerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
}
