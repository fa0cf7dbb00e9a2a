/**
 * Fields AWS KMS leaves out of an answer when they do not apply: a symmetric key has no
 * SigningAlgorithms, a grant may constrain only one kind of encryption context, or none. proto3
 * cannot tell an empty list or map from an absent one, so the CLI drops these when empty, as the
 * AWS CLI never shows them. Lists that are empty by their content (Keys, Tags, Grants …) stay.
 */
const ABSENT_WHEN_EMPTY = new Set([
  'EncryptionAlgorithms',
  'SigningAlgorithms',
  'MacAlgorithms',
  'KeyAgreementAlgorithms',
  'EncryptionContextSubset',
  'EncryptionContextEquals',
  'Constraints',
]);

/**
 * The AWS CLI's output shape for scripts: PascalCase names, blobs in base64, times in ISO 8601.
 * (KeyId → "KeyId", ciphertextBlob → "CiphertextBlob".) Only the API's own field names change
 * case: an encryption context (a grant's EncryptionContextSubset or EncryptionContextEquals) is
 * the caller's data, and its keys are printed as they were given.
 */
export function toAwsJson(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toAwsJson);
  if (value !== null && typeof value === 'object') {
    const fields: [string, unknown][] = [];
    for (const [key, item] of Object.entries(value)) {
      const name = key.charAt(0).toUpperCase() + key.slice(1);
      const printed = name.startsWith('EncryptionContext') ? item : toAwsJson(item);
      if (!(ABSENT_WHEN_EMPTY.has(name) && isEmpty(printed))) fields.push([name, printed]);
    }
    return Object.fromEntries(fields);
  }
  return value;
}

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  return value !== null && typeof value === 'object' && Object.keys(value).length === 0;
}

/** `k=v` pairs from repeated flags, for tags and encryption contexts. */
export function keyValuePairs(pairs: readonly string[] | undefined, what: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`${what} must be key=value, got '${pair}'`);
    result[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return result;
}
