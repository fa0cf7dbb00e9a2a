import { join } from 'node:path';

/**
 * Where `p11kms init` puts everything for an embedded, single-machine deployment.
 * Production deployments bring their own CA, certificates and token (see src/config.ts).
 */
export interface DataDirLayout {
  readonly root: string;
  /** SoftHSM2 configuration pointing at `tokenDir`; exported as SOFTHSM2_CONF before the library loads. */
  readonly softhsmConf: string;
  readonly tokenDir: string;
  /** The user PIN, mode 0600. */
  readonly pinFile: string;
  /** The security-officer PIN, mode 0600 (kept for token administration; the service never uses it). */
  readonly soPinFile: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  /** Client certificates issued by `p11kms issue-cert` land here. */
  readonly clientsDir: string;
  readonly database: string;
  /** Identity policies, used by `serve` when present (see README, "Authorization"). */
  readonly identityPolicies: string;
  /** Written by `serve` once it listens, so client commands find the server. */
  readonly endpointFile: string;
}

export const DEFAULT_TOKEN_LABEL = 'p11kms';
export const DEFAULT_ACCOUNT = '111122223333';
export const SOFTHSM2_LIBRARY_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

export function dataDirLayout(root: string): DataDirLayout {
  return {
    root,
    softhsmConf: join(root, 'softhsm2.conf'),
    tokenDir: join(root, 'tokens'),
    pinFile: join(root, 'pin'),
    soPinFile: join(root, 'so-pin'),
    caCert: join(root, 'pki', 'ca.pem'),
    caKey: join(root, 'pki', 'ca.key'),
    serverCert: join(root, 'pki', 'server.pem'),
    serverKey: join(root, 'pki', 'server.key'),
    adminCert: join(root, 'pki', 'clients', 'admin.pem'),
    adminKey: join(root, 'pki', 'clients', 'admin.key'),
    clientsDir: join(root, 'pki', 'clients'),
    database: join(root, 'p11kms.db'),
    endpointFile: join(root, 'endpoint'),
    identityPolicies: join(root, 'identity-policies.json'),
  };
}
