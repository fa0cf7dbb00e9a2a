import { defineOperation } from './operation.js';
import { dataKeyAudit, generateDataKey as makeDataKey, validateDataKeyRequest, type DataKeyRequest } from './data-key.js';

export interface GenerateDataKeyResponse {
  readonly ciphertextBlob: Buffer;
  /** Sensitive: the transport wipes it once the response is serialised. */
  readonly plaintext: Buffer;
  readonly keyId: string;
}

/** AWS KMS GenerateDataKey: a plaintext data key and the same key encrypted under the KMS key. */
export const generateDataKey = defineOperation<DataKeyRequest, GenerateDataKeyResponse, 'key'>({
  name: 'GenerateDataKey',
  dryRun: true,
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:GenerateDataKey', stateRules: 'GenerateDataKey', usage: 'ENCRYPT_DECRYPT' },
  },
  conditions: (r) => ({ encryptionContext: r.encryptionContext ?? {} }),
  audit: dataKeyAudit,
  validate: validateDataKeyRequest,
  async run(request, { hsm, keys: { key } }) {
    const dataKey = await makeDataKey(hsm, key, request);
    return { ciphertextBlob: dataKey.ciphertextBlob, plaintext: dataKey.plaintext, keyId: key.arn };
  },
});
