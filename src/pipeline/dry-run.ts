import { dryRunDone } from '../domain/errors.js';
import type { Hsm, HsmCapabilities } from '../ports/hsm.js';

/**
 * The token as a dry run sees it (AWS KMS DryRun): what it can do, and nothing done. An operation
 * validates its request, checks the key's algorithms and its own limits, then calls the token for
 * its work; here that first call is where DryRunOperationException comes from, so a dry run checks
 * exactly what a real call would check before the token, and makes no token call at all.
 */
export class DryRunHsm implements Hsm {
  constructor(private readonly token: Hsm) {}

  get capabilities(): HsmCapabilities {
    return this.token.capabilities;
  }

  generateSymmetricKey = refuse;
  generateKey = refuse;
  destroyKey = refuse;
  encrypt = refuse;
  decrypt = refuse;
  publicKey = refuse;
  sign = refuse;
  verify = refuse;
  encryptAsymmetric = refuse;
  decryptAsymmetric = refuse;
  mac = refuse;
  deriveSharedSecret = refuse;
  random = refuse;
  describeKeyObject = refuse;

  /** The real token stays open: the dry run only borrowed it. */
  async close(): Promise<void> {}
}

function refuse(): Promise<never> {
  return Promise.reject(dryRunDone());
}
