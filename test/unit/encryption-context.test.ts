import { describe, expect, it } from 'vitest';
import {
  canonicalEncryptionContext,
  MAX_ENCRYPTION_CONTEXT_BYTES,
  validateEncryptionContext,
  type EncryptionContext,
} from '../../src/domain/encryption-context.js';
import { KmsError } from '../../src/domain/errors.js';

const canonicalHex = (context: EncryptionContext) => canonicalEncryptionContext(context).toString('hex');

function validationError(run: () => void): KmsError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(KmsError);
  expect((caught as KmsError).name).toBe('ValidationException');
  return caught as KmsError;
}

describe('canonicalEncryptionContext', () => {
  it('does not depend on the order the pairs were given in', () => {
    const forward = { purpose: 'backup', bucket: 'logs', tenant: '42' };
    const backward = { tenant: '42', bucket: 'logs', purpose: 'backup' };

    expect(canonicalHex(forward)).toBe(canonicalHex(backward));
  });

  it('encodes each pair as length-prefixed key and value, sorted by key', () => {
    expect(canonicalHex({ b: 'x', a: 'yz' })).toBe(
      ['0001', '61', '0002', '797a', '0001', '62', '0001', '78'].join(''),
    );
  });

  it('keeps {"a":"bc"} and {"ab":"c"} apart', () => {
    expect(canonicalHex({ a: 'bc' })).not.toBe(canonicalHex({ ab: 'c' }));
    expect(canonicalHex({ a: '', b: '' })).not.toBe(canonicalHex({ ab: '' }));
  });

  it('tells a value from a changed value', () => {
    expect(canonicalHex({ a: '1' })).not.toBe(canonicalHex({ a: '2' }));
    expect(canonicalHex({ a: '1' })).not.toBe(canonicalHex({ a: '1', b: '' }));
  });

  it('makes {} the empty AAD', () => {
    expect(canonicalEncryptionContext({}).length).toBe(0);
  });

  it('sorts unicode keys by their UTF-8 bytes and encodes them as UTF-8', () => {
    // 'é' (U+00E9, C3 A9) sorts after 'z' (7A) and before '😀' (U+1F600, F0 9F 98 80) in UTF-8 bytes,
    // whereas UTF-16 code units would put '😀' (D83D) before 'ﬀ' (U+FB00, EF AC 80).
    const context = { '😀': 'smile', z: 'zed', 'ﬀ': 'ligature', 'é': 'acute' };
    const aad = canonicalEncryptionContext(context);

    const keysInOrder: string[] = [];
    for (let offset = 0; offset < aad.length; ) {
      const keyLength = aad.readUInt16BE(offset);
      keysInOrder.push(aad.subarray(offset + 2, offset + 2 + keyLength).toString('utf8'));
      offset += 2 + keyLength;
      offset += 2 + aad.readUInt16BE(offset);
    }
    expect(keysInOrder).toEqual(['z', 'é', 'ﬀ', '😀']);
    expect(canonicalHex({ é: 'v' })).toBe('0002c3a90001' + '76');
    expect(canonicalHex(context)).toBe(canonicalHex({ 'é': 'acute', 'ﬀ': 'ligature', z: 'zed', '😀': 'smile' }));
  });

  it('writes what encoding each pair and sorting the encoded keys writes, for 1,000 generated contexts', () => {
    // The reference: every string encoded, pairs sorted by Buffer.compare of the keys, prefixes added.
    const reference = (context: EncryptionContext) =>
      Buffer.concat(
        Object.entries(context)
          .map(([key, value]) => [Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')])
          .sort((a, b) => Buffer.compare(a[0]!, b[0]!))
          .flatMap((pair) => pair.flatMap((text) => [Buffer.from([text.length >> 8, text.length & 0xff]), text])),
      );
    const characters = ['a', 'z', 'A', '0', '-', ' ', 'é', '\u00ff', '\u0800', '\ud7ff', '\ue000', 'ﬀ', '\uffff', '😀', '\u{10ffff}'];
    let state = 11;
    const next = (n: number) => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
    const text = (max: number) => Array.from({ length: next(max) }, () => characters[next(characters.length)]).join('');
    for (let round = 0; round < 1000; round++) {
      const context: Record<string, string> = {};
      for (let pairs = next(6); pairs > 0; pairs--) context[text(4) || 'k'] = text(5);
      expect(canonicalHex(context), JSON.stringify(context)).toBe(reference(context).toString('hex'));
    }
  });
});

describe('validateEncryptionContext', () => {
  it('accepts an empty context and one at exactly 8,192 bytes', () => {
    expect(() => validateEncryptionContext({})).not.toThrow();
    expect(() => validateEncryptionContext({ k: 'v'.repeat(MAX_ENCRYPTION_CONTEXT_BYTES - 1) })).not.toThrow();
  });

  it('gives ValidationException one byte past 8,192, counting UTF-8 bytes of keys and values', () => {
    validationError(() => validateEncryptionContext({ k: 'v'.repeat(MAX_ENCRYPTION_CONTEXT_BYTES) }));
    // 4,096 two-byte characters are 8,192 bytes though only 4,096 UTF-16 code units.
    validationError(() => validateEncryptionContext({ k: 'é'.repeat(4096) }));
    expect(() => validateEncryptionContext({ é: 'é'.repeat(4095) })).not.toThrow();
  });

  it('names the field and the limit, but not the context itself', () => {
    const error = validationError(() =>
      validateEncryptionContext({ secretish: 'x'.repeat(MAX_ENCRYPTION_CONTEXT_BYTES) }, 'GrantConstraints'),
    );
    expect(error.message).toContain('GrantConstraints');
    expect(error.message).toContain(String(MAX_ENCRYPTION_CONTEXT_BYTES));
    expect(error.message).not.toContain('secretish');
  });

  it('gives ValidationException for an empty key', () => {
    validationError(() => validateEncryptionContext({ '': 'value' }));
  });
});
