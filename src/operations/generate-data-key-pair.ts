import type { DataKeyPairSpec } from '../domain/key-spec-facts.js';
import {
  dataKeyPairAudit,
  dataKeyPairConditions,
  generateDataKeyPair as makeDataKeyPair,
  validateDataKeyPairRequest,
  type DataKeyPairRequest,
} from './data-key-pair.js';
import { defineOperation } from './operation.js';

export interface GenerateDataKeyPairResponse {
  readonly privateKeyCiphertextBlob: Buffer;
  /** Sensitive: the transport wipes it once the response is serialised. */
  readonly privateKeyPlaintext: Buffer;
  readonly publicKey: Buffer;
  readonly keyId: string;
  readonly keyPairSpec: DataKeyPairSpec;
}

/** AWS KMS GenerateDataKeyPair: a key pair, its private key also encrypted under a symmetric KMS key. */
export const generateDataKeyPair = defineOperation<DataKeyPairRequest, GenerateDataKeyPairResponse, 'key'>({
  name: 'GenerateDataKeyPair',
  dryRun: true,
  keys: {
    key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:GenerateDataKeyPair', stateRules: 'GenerateDataKeyPair', usage: 'ENCRYPT_DECRYPT' },
  },
  conditions: dataKeyPairConditions,
  audit: dataKeyPairAudit,
  validate: validateDataKeyPairRequest,
  async run(request, { hsm, keys: { key } }) {
    const pair = await makeDataKeyPair(hsm, key, request);
    return { ...pair, keyId: key.arn, keyPairSpec: request.keyPairSpec! };
  },
});
