import { invalidCiphertext } from './errors.js';
import { boundedMemo } from './memo.js';

/**
 * The symmetric ciphertext blob (DESIGN.md, "Ciphertext"), version 1:
 *
 *   offset  size  field
 *   0       1     format (0x01)
 *   1       16    key id (UUID bytes)
 *   17      16    key-version id (UUID bytes)
 *   33      12    AES-GCM IV
 *   45      n     ciphertext
 *   45+n    16    AES-GCM tag
 *
 * Decrypt needs no key id because the blob names the key and the version it was sealed with.
 */
export const CIPHERTEXT_FORMAT_V1 = 0x01;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
const HEADER_BYTES = 1 + 16 + 16;
const MIN_BYTES = HEADER_BYTES + GCM_IV_BYTES + GCM_TAG_BYTES;

/** AWS KMS caps CiphertextBlob at 6,144 bytes. */
export const MAX_CIPHERTEXT_BYTES = 6144;

export interface SealedCiphertext {
  readonly keyId: string;
  readonly keyVersionId: string;
  readonly iv: Buffer;
  /** The GCM output: ciphertext followed by the 16-byte tag, exactly as PKCS#11 returns it. */
  readonly ciphertextAndTag: Buffer;
}

export function encodeCiphertext(sealed: SealedCiphertext): Buffer {
  if (sealed.iv.length !== GCM_IV_BYTES) throw new RangeError('AES-GCM IV must be 12 bytes');
  if (sealed.ciphertextAndTag.length < GCM_TAG_BYTES) throw new RangeError('AES-GCM output lacks its tag');
  const blob = Buffer.allocUnsafe(HEADER_BYTES + GCM_IV_BYTES + sealed.ciphertextAndTag.length);
  blob[0] = CIPHERTEXT_FORMAT_V1;
  idBytes(sealed.keyId).copy(blob, 1);
  idBytes(sealed.keyVersionId).copy(blob, 17);
  sealed.iv.copy(blob, HEADER_BYTES);
  sealed.ciphertextAndTag.copy(blob, HEADER_BYTES + GCM_IV_BYTES);
  return blob;
}

/**
 * The 16 bytes of a key or key-version id, made once per id: every Encrypt under a key version
 * writes the same two, and making them from the UUID strings on every request cost ~3 µs in the
 * Encrypt bench's profile. Only ever copied out. Room for two ids (key and version) of as many keys
 * as the metadata cache keeps (50,000, caching-metadata-store.ts); in memo.ts's default 10,000,
 * the 20,006 ids of the bench's 10,003 keys would be found one time in two.
 */
const idBytes = boundedMemo(uuidToBytes, 100_000);

/** Any blob that is not a well-formed v1 ciphertext gives InvalidCiphertextException. */
export function decodeCiphertext(blob: Buffer): SealedCiphertext {
  if (blob.length < MIN_BYTES || blob.length > MAX_CIPHERTEXT_BYTES || blob[0] !== CIPHERTEXT_FORMAT_V1) {
    throw invalidCiphertext();
  }
  return {
    keyId: bytesToUuid(blob.subarray(1, 17)),
    keyVersionId: bytesToUuid(blob.subarray(17, 33)),
    iv: blob.subarray(HEADER_BYTES, HEADER_BYTES + GCM_IV_BYTES),
    ciphertextAndTag: blob.subarray(HEADER_BYTES + GCM_IV_BYTES),
  };
}

export function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuidHex(uuid), 'hex');
}

const HEX_32 = /^[0-9a-f]{32}$/;

function uuidHex(uuid: string): string {
  const hex = uuid.replaceAll('-', '');
  if (!HEX_32.test(hex)) throw new RangeError(`not a UUID: ${uuid}`);
  return hex;
}

export function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
