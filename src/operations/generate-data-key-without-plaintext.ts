import { defineOperation } from './operation.js';
import { dataKeyAudit, generateDataKey, validateDataKeyRequest, type DataKeyRequest } from './data-key.js';

export interface GenerateDataKeyWithoutPlaintextResponse {
  readonly ciphertextBlob: Buffer;
  readonly keyId: string;
}

/** AWS KMS GenerateDataKeyWithoutPlaintext: only the encrypted copy; the plaintext is wiped here. */
export const generateDataKeyWithoutPlaintext = defineOperation<
  DataKeyRequest,
  GenerateDataKeyWithoutPlaintextResponse,
  'key'
>({
  name: 'GenerateDataKeyWithoutPlaintext',
  dryRun: true,
  keys: {
    key: {
      ref: (r) => r.keyId,
      field: 'KeyId',
      action: 'kms:GenerateDataKeyWithoutPlaintext',
      stateRules: 'GenerateDataKeyWithoutPlaintext',
      usage: 'ENCRYPT_DECRYPT',
    },
  },
  conditions: (r) => ({ encryptionContext: r.encryptionContext ?? {} }),
  audit: dataKeyAudit,
  validate: validateDataKeyRequest,
  async run(request, { hsm, keys: { key } }) {
    const dataKey = await generateDataKey(hsm, key, request);
    dataKey.plaintext.fill(0);
    return { ciphertextBlob: dataKey.ciphertextBlob, keyId: key.arn };
  },
});
