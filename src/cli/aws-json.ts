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
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        const name = key.charAt(0).toUpperCase() + key.slice(1);
        return [name, name.startsWith('EncryptionContext') ? item : toAwsJson(item)];
      }),
    );
  }
  return value;
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
