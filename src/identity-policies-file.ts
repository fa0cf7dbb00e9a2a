import { readFileSync } from 'node:fs';
import type { Logger } from './adapters/log/logger.js';
import { EMPTY_IDENTITY_POLICIES, parseIdentityPolicies, type IdentityPolicySet } from './policy/identity-policy-set.js';

/**
 * Loads the identity policies file at start (a bad file stops the server) and again on SIGHUP
 * (a bad file is refused and the policies in force stay). Returns a function that stops listening.
 */
export function loadIdentityPolicies(
  path: string | undefined,
  target: { useIdentityPolicies(set: IdentityPolicySet): void },
  logger: Pick<Logger, 'info' | 'error'>,
): () => void {
  const read = () => (path ? parseIdentityPolicies(readFileSync(path, 'utf8'), path) : EMPTY_IDENTITY_POLICIES);
  target.useIdentityPolicies(read());
  if (path) logger.info({ path }, 'identity policies loaded');
  const reload = () => {
    try {
      target.useIdentityPolicies(read());
      logger.info({ path }, 'identity policies reloaded');
    } catch (error) {
      logger.error({ path, err: error }, 'identity policies not reloaded: the file is invalid; the previous policies stay');
    }
  };
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}
