import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  bytesToUuid,
  CIPHERTEXT_FORMAT_V1,
  decodeCiphertext,
  encodeCiphertext,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
  MAX_CIPHERTEXT_BYTES,
  type SealedCiphertext,
  uuidToBytes,
} from '../../src/domain/ciphertext.js';
import { KmsError } from '../../src/domain/errors.js';

const HEADER_BYTES = 1 + 16 + 16;
const MIN_BYTES = HEADER_BYTES + GCM_IV_BYTES + GCM_TAG_BYTES;

function sealed(plaintextBytes: number): SealedCiphertext {
  return {
    keyId: randomUUID(),
    keyVersionId: randomUUID(),
    iv: randomBytes(GCM_IV_BYTES),
    ciphertextAndTag: randomBytes(plaintextBytes + GCM_TAG_BYTES),
  };
}

function expectInvalidCiphertext(blob: Buffer): void {
  let caught: unknown;
  try {
    decodeCiphertext(blob);
  } catch (error) {
    caught = error;
  }
  expect(caught, `blob of ${blob.length} bytes`).toBeInstanceOf(KmsError);
  expect((caught as KmsError).name).toBe('InvalidCiphertextException');
}

describe('ciphertext blob', () => {
  it('round-trips key id, version id, IV and ciphertext with tag', () => {
    const original = sealed(100);
    const blob = encodeCiphertext(original);

    expect(blob[0]).toBe(CIPHERTEXT_FORMAT_V1);
    expect(blob.length).toBe(HEADER_BYTES + GCM_IV_BYTES + 100 + GCM_TAG_BYTES);
    const decoded = decodeCiphertext(blob);
    expect(decoded.keyId).toBe(original.keyId);
    expect(decoded.keyVersionId).toBe(original.keyVersionId);
    expect(decoded.iv.equals(original.iv)).toBe(true);
    expect(decoded.ciphertextAndTag.equals(original.ciphertextAndTag)).toBe(true);
  });

  it('writes the ids of each blob, however often a version seals and whichever key names it', () => {
    const first = sealed(16);
    const blob = encodeCiphertext(first);
    blob.fill(0, 0, HEADER_BYTES); // a caller scribbling on its blob changes no later blob
    const again = encodeCiphertext({ ...first, iv: randomBytes(GCM_IV_BYTES) });
    expect(decodeCiphertext(again).keyId).toBe(first.keyId);
    expect(decodeCiphertext(again).keyVersionId).toBe(first.keyVersionId);
    // The same version id under another key id (never made by CreateKey, but the blob must say so).
    const otherKeyId = randomUUID();
    const other = encodeCiphertext({ ...first, keyId: otherKeyId });
    expect(decodeCiphertext(other).keyId).toBe(otherKeyId);
    expect(decodeCiphertext(other).keyVersionId).toBe(first.keyVersionId);
    expect(decodeCiphertext(encodeCiphertext(first)).keyId).toBe(first.keyId);
  });

  it('refuses to encode ids that are not UUIDs', () => {
    expect(() => encodeCiphertext({ ...sealed(1), keyId: 'not-a-uuid' })).toThrow(RangeError);
    expect(() => encodeCiphertext({ ...sealed(1), keyVersionId: 'alias/x' })).toThrow(RangeError);
  });

  it('round-trips an empty plaintext, the shortest valid blob', () => {
    const original = sealed(0);
    const blob = encodeCiphertext(original);

    expect(blob.length).toBe(MIN_BYTES);
    expect(decodeCiphertext(blob).ciphertextAndTag.equals(original.ciphertextAndTag)).toBe(true);
  });

  it('rejects every truncation of the shortest blob with InvalidCiphertextException', () => {
    const blob = encodeCiphertext(sealed(0));
    for (let length = 0; length < blob.length; length++) expectInvalidCiphertext(blob.subarray(0, length));
  });

  it('rejects every truncation shorter than IV plus tag of a longer blob', () => {
    // Longer truncations still parse; the GCM tag check at decryption catches them.
    const blob = encodeCiphertext(sealed(64));
    for (let length = 0; length < MIN_BYTES; length++) expectInvalidCiphertext(blob.subarray(0, length));
  });

  it('rejects a blob whose format byte was changed', () => {
    const blob = encodeCiphertext(sealed(16));
    for (const format of [0x00, 0x02, 0x7f, 0xff]) {
      const altered = Buffer.from(blob);
      altered[0] = format;
      expectInvalidCiphertext(altered);
    }
  });

  it('rejects a blob longer than the 6,144 bytes AWS KMS accepts', () => {
    const atLimit = encodeCiphertext(sealed(MAX_CIPHERTEXT_BYTES - MIN_BYTES));
    expect(atLimit.length).toBe(MAX_CIPHERTEXT_BYTES);
    expect(() => decodeCiphertext(atLimit)).not.toThrow();

    expectInvalidCiphertext(encodeCiphertext(sealed(MAX_CIPHERTEXT_BYTES - MIN_BYTES + 1)));
  });

  it('rejects garbage', () => {
    expectInvalidCiphertext(Buffer.from('not a ciphertext at all, just some text', 'utf8'));
    expectInvalidCiphertext(Buffer.alloc(MIN_BYTES));
    for (let i = 0; i < 20; i++) {
      const junk = randomBytes(1 + (i * 37) % 200);
      if (junk[0] === CIPHERTEXT_FORMAT_V1) junk[0] = 0;
      expectInvalidCiphertext(junk);
    }
  });

  it('refuses to encode a wrong-sized IV or output without a tag', () => {
    expect(() => encodeCiphertext({ ...sealed(0), iv: randomBytes(16) })).toThrow(RangeError);
    expect(() => encodeCiphertext({ ...sealed(0), ciphertextAndTag: randomBytes(GCM_TAG_BYTES - 1) })).toThrow(
      RangeError,
    );
  });
});

describe('uuid bytes', () => {
  it('converts a UUID to its 16 bytes and back', () => {
    const uuid = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const bytes = uuidToBytes(uuid);

    expect(bytes.toString('hex')).toBe('0f1e2d3c4b5a69788796a5b4c3d2e1f0');
    expect(bytesToUuid(bytes)).toBe(uuid);
    for (let i = 0; i < 50; i++) {
      const random = randomUUID();
      expect(bytesToUuid(uuidToBytes(random))).toBe(random);
    }
  });

  it('refuses strings that are not UUIDs', () => {
    for (const bad of ['', 'alias/foo', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f', '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg']) {
      expect(() => uuidToBytes(bad), bad).toThrow(RangeError);
    }
  });
});
