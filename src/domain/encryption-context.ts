import { KmsError } from './errors.js';

export type EncryptionContext = Readonly<Record<string, string>>;

/** p11kms caps an encryption context at 8,192 UTF-8 bytes (keys plus values), so it stays cheap to bind and audit. */
export const MAX_ENCRYPTION_CONTEXT_BYTES = 8192;

export function validateEncryptionContext(context: EncryptionContext, field = 'EncryptionContext'): void {
  let bytes = 0;
  for (const [key, value] of Object.entries(context)) {
    if (key.length === 0) {
      throw new KmsError('ValidationException', `${field} keys must not be empty.`);
    }
    bytes += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  if (bytes > MAX_ENCRYPTION_CONTEXT_BYTES) {
    throw new KmsError(
      'ValidationException',
      `${field} is ${bytes} bytes; the limit is ${MAX_ENCRYPTION_CONTEXT_BYTES}.`,
    );
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The additional authenticated data for AES-GCM: the encryption context, order-independent.
 * Pairs are sorted by the UTF-8 bytes of their keys and each string is length-prefixed (u16 BE),
 * so no two different contexts share an encoding ({"a":"bc"} ≠ {"ab":"c"}); {} is the empty AAD.
 */
export function canonicalEncryptionContext(context: EncryptionContext): Buffer {
  const entries = Object.entries(context);
  if (entries.length === 0) return EMPTY;
  const encoded = entries
    .map(([key, value]) => [Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')] as const)
    .sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Buffer[] = [];
  for (const [key, value] of encoded) {
    parts.push(lengthPrefix(key.length), key, lengthPrefix(value.length), value);
  }
  return Buffer.concat(parts);
}

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(2);
  prefix.writeUInt16BE(length);
  return prefix;
}
