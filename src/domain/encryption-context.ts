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
 *
 * Written straight into one buffer of the exact size: every Encrypt and Decrypt makes one, and
 * the pairs, the buffers of each key and value and of each prefix, and the parts list were ~1 KB
 * of garbage per request for a one-pair context (heap sampling).
 */
export function canonicalEncryptionContext(context: EncryptionContext): Buffer {
  const keys = Object.keys(context);
  if (keys.length === 0) return EMPTY;
  if (keys.length > 1) keys.sort(byUtf8);
  let size = 0;
  for (const key of keys) size += 4 + Buffer.byteLength(key, 'utf8') + Buffer.byteLength(context[key]!, 'utf8');
  const aad = Buffer.allocUnsafe(size);
  let at = 0;
  for (const key of keys) {
    at = writePrefixed(aad, at, key);
    at = writePrefixed(aad, at, context[key]!);
  }
  return aad;
}

function writePrefixed(buffer: Buffer, at: number, text: string): number {
  const length = buffer.write(text, at + 2, 'utf8');
  buffer.writeUInt16BE(length, at);
  return at + 2 + length;
}

/**
 * UTF-8 byte order is code point order. UTF-16 code unit order (JavaScript's) agrees with it except
 * where a surrogate meets U+E000–U+FFFF, so only strings holding a surrogate are compared as bytes.
 */
function byUtf8(a: string, b: string): number {
  if (SURROGATE.test(a) || SURROGATE.test(b)) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return a < b ? -1 : a > b ? 1 : 0;
}

const SURROGATE = /[\ud800-\udfff]/;
