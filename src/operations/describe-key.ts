import { defineOperation } from './operation.js';
import { keyMetadata, type KeyMetadata } from './key-metadata.js';

export interface DescribeKeyRequest {
  readonly keyId?: string;
}

export interface DescribeKeyResponse {
  readonly keyMetadata: KeyMetadata;
}

export const describeKey = defineOperation<DescribeKeyRequest, DescribeKeyResponse, 'key'>({
  name: 'DescribeKey',
  keys: { key: { ref: (r) => r.keyId, field: 'KeyId', action: 'kms:DescribeKey', stateRules: 'DescribeKey' } },
  audit: (request) => ({ keyId: request.keyId }),
  async run(_request, { keys, hsm }) {
    return { keyMetadata: keyMetadata(keys.key, hsm.capabilities) };
  },
});
