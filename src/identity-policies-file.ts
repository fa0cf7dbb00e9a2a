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

export interface IdentityPolicyTarget {
  useIdentityPolicies(set: IdentityPolicySet): void;
}

/** The identity policies read at start, ready to be put in force once their target exists. */
export interface IdentityPoliciesFile {
  /** Puts them in force on `target`, and reloads on every SIGHUP; returns a function that stops listening. */
  applyTo(target: IdentityPolicyTarget): () => void;
}

/**
 * Reads the identity policies file at start: a bad file, or a missing one that must exist, throws
 * here, before the service touches the token or the store. On SIGHUP the file is read again; a bad
 * one is refused and the policies in force stay. A file that may be absent is read whenever it is
 * there: created after start, it takes effect on the next SIGHUP; removed, the next SIGHUP leaves
 * no identity policies in force (fewer allows, never more).
 */
export function readIdentityPoliciesFile(source: IdentityPoliciesSource | undefined, logger: IdentityPoliciesLogger): IdentityPoliciesFile {
  /** The policies in the file, or undefined when it is absent and may be. */
  const read = (): IdentityPolicySet | undefined => {
    if (!source) return EMPTY_IDENTITY_POLICIES;
    let text: string;
    try {
      text = readFileSync(source.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (source.mayBeAbsent && code === 'ENOENT') return undefined;
      throw new Error(`identity policies file ${source.path}: ${code === 'ENOENT' ? 'does not exist' : (error as Error).message}`, { cause: error });
    }
    return parseIdentityPolicies(text, source.path);
  };
  const path = source?.path;
  const atStart = read();
  return {
    applyTo(target) {
      target.useIdentityPolicies(atStart ?? EMPTY_IDENTITY_POLICIES);
      if (atStart === undefined) {
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
    },
  };
}
