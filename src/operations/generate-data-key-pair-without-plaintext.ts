import type { DataKeyPairSpec } from '../domain/key-spec-facts.js';
import {
  dataKeyPairAudit,
  dataKeyPairConditions,
  generateDataKeyPair,
  validateDataKeyPairRequest,
  type DataKeyPairRequest,
} from './data-key-pair.js';
import { defineOperation } from './operation.js';

export interface GenerateDataKeyPairWithoutPlaintextResponse {
  readonly privateKeyCiphertextBlob: Buffer;
  readonly publicKey: Buffer;
  readonly keyId: string;
  readonly keyPairSpec: DataKeyPairSpec;
}

/** AWS KMS GenerateDataKeyPairWithoutPlaintext: the public key and the encrypted private key only. */
export const generateDataKeyPairWithoutPlaintext = defineOperation<
  DataKeyPairRequest,
  GenerateDataKeyPairWithoutPlaintextResponse,
  'key'
>({
  name: 'GenerateDataKeyPairWithoutPlaintext',
  dryRun: true,
  keys: {
    key: {
      ref: (r) => r.keyId,
      field: 'KeyId',
      action: 'kms:GenerateDataKeyPairWithoutPlaintext',
      stateRules: 'GenerateDataKeyPairWithoutPlaintext',
      usage: 'ENCRYPT_DECRYPT',
    },
  },
  conditions: dataKeyPairConditions,
  audit: dataKeyPairAudit,
  validate: validateDataKeyPairRequest,
  async run(request, { hsm, keys: { key } }) {
    const { privateKeyPlaintext, ...pair } = await generateDataKeyPair(hsm, key, request);
    privateKeyPlaintext.fill(0);
    return { ...pair, keyId: key.arn, keyPairSpec: request.keyPairSpec! };
  },
});
