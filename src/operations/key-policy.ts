import { KmsError, needs, validation } from '../domain/errors.js';

/** AWS KMS: a key has one policy, named "default", of at most 32 KiB. */
export const DEFAULT_POLICY_NAME = 'default';
export const MAX_POLICY_BYTES = 32 * 1024;

export function validatePolicyName(name: string | undefined): void {
  needs(name === undefined || name === '' || name === DEFAULT_POLICY_NAME, () =>
    validation(`PolicyName must be '${DEFAULT_POLICY_NAME}', the only key policy a key has.`),
  );
}

export function validatePolicySize(policy: string | undefined, field = 'Policy'): void {
  if (policy === undefined) return;
  needs(policy.length > 0, () => validation(`${field} must not be empty.`));
  // AWS KMS PutKeyPolicy, Policy: tab, LF, CR and U+0020–U+00FF only.
  needs(/^[\t\n\r\u0020-\u00ff]*$/.test(policy), () =>
    new KmsError('MalformedPolicyDocumentException', `${field} may hold only tab, line feed, carriage return and characters U+0020 to U+00FF.`),
  );
  const bytes = Buffer.byteLength(policy, 'utf8');
  needs(bytes <= MAX_POLICY_BYTES, () =>
    new KmsError('MalformedPolicyDocumentException', `${field} is ${bytes} bytes; the limit is ${MAX_POLICY_BYTES}.`),
  );
}
