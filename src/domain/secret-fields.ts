/**
 * The fields of an operation's result that hold plaintext data or key material (Decrypt,
 * GenerateDataKey, GenerateDataKeyPair, DeriveSharedSecret…). The transport zeroes them once the
 * answer is serialised, the pipeline when the audit record fails and no answer leaves (STYLE.md,
 * habit 11; DESIGN.md invariant 3).
 */
const SECRET_FIELDS = ['plaintext', 'privateKeyPlaintext', 'sharedSecret'] as const;

export function holdsSecret(result: unknown): boolean {
  if (typeof result !== 'object' || result === null) return false;
  for (const field of SECRET_FIELDS) if (Buffer.isBuffer((result as Record<string, unknown>)[field])) return true;
  return false;
}

export function wipeSecrets(result: unknown): void {
  if (typeof result !== 'object' || result === null) return;
  for (const field of SECRET_FIELDS) {
    const secret = (result as Record<string, unknown>)[field];
    if (Buffer.isBuffer(secret)) secret.fill(0);
  }
}
