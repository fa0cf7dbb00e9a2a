import { readFileSync } from 'node:fs';
import { EMPTY_IDENTITY_POLICIES, parseIdentityPolicies, type IdentityPolicySet } from './policy/identity-policy-set.js';

/** Where the identity policies come from (src/config.ts: identityPolicies, identityPoliciesMayBeAbsent). */
export interface IdentityPoliciesSource {
  readonly path: string;
  /** An absent file means no identity policies (the embedded defaults); otherwise it is an error. */
  readonly mayBeAbsent: boolean;
}

/** What the loader logs through (a pino Logger is one). */
export interface IdentityPoliciesLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * Loads the identity policies file at start and again on SIGHUP. At start a bad file, or a missing
 * one that must exist, stops the server; on SIGHUP it is refused and the policies in force stay.
 * A file that may be absent is read whenever it is there: created after start, it takes effect on
 * the next SIGHUP; removed, the next SIGHUP leaves no identity policies in force (fewer allows,
 * never more). Returns a function that stops listening.
 */
export function loadIdentityPolicies(
  source: IdentityPoliciesSource | undefined,
  target: { useIdentityPolicies(set: IdentityPolicySet): void },
  logger: IdentityPoliciesLogger,
): () => void {
  /** The policies in the file, or undefined when it is absent and may be. */
  const read = (): IdentityPolicySet | undefined => {
    if (!source) return EMPTY_IDENTITY_POLICIES;
    let text: string;
    try {
      text = readFileSync(source.path, 'utf8');
    } catch (error) {
      if (source.mayBeAbsent && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return parseIdentityPolicies(text, source.path);
  };
  const path = source?.path;
  const loaded = read();
  target.useIdentityPolicies(loaded ?? EMPTY_IDENTITY_POLICIES);
  if (loaded === undefined) {
    logger.info({ path }, 'no identity policies file: none in force until it is created and the server gets SIGHUP');
  } else if (source) {
    logger.info({ path }, 'identity policies loaded');
  }
  const reload = () => {
    if (!source) {
      logger.info({}, 'SIGHUP: no identity policies file is configured, nothing to reload');
      return;
    }
    try {
      const set = read();
      target.useIdentityPolicies(set ?? EMPTY_IDENTITY_POLICIES);
      if (set === undefined) logger.warn({ path }, 'identity policies file absent: no identity policies in force');
      else logger.info({ path }, 'identity policies reloaded');
    } catch (error) {
      logger.error({ path, err: error }, 'identity policies not reloaded: the file is invalid or unreadable; the previous policies stay');
    }
  };
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}
