import { createHash, createPublicKey } from 'node:crypto';
import { defineOperation } from '../operation.js';

export type GetAuditPublicKeyRequest = Record<string, never>;

export interface GetAuditPublicKeyResponse {
  readonly publicKeyPem: string;
  readonly fingerprintSha256: string;
}

/**
 * The audit key's public half (issue 6, item 4): all an offline verifier needs besides the export.
 * Compare the fingerprint out of band (e.g. with `p11kms audit public-key`, which reads the token).
 */
export function getAuditPublicKey(publicKeyPem: string) {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const fingerprintSha256 = createHash('sha256').update(der).digest('hex');
  return defineOperation<GetAuditPublicKeyRequest, GetAuditPublicKeyResponse>({
    name: 'GetAuditPublicKey',
    action: 'kms:GetAuditPublicKey',
    keys: {},
    async run() {
      return { publicKeyPem, fingerprintSha256 };
    },
  });
}
