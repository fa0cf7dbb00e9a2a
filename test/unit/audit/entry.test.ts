import { describe, expect, it } from 'vitest';
import { canonicalEntry, entryFromEvent } from '../../../src/audit/entry.js';
import { canonicalJson, toJsonValue } from '../../../src/audit/json-value.js';
import { sampleEvent } from '../../support/audit-ledger.js';

describe('canonical JSON (RFC 8785)', () => {
  it('matches the RFC 8785 §3.2.2 example: literals, numbers and string escapes', () => {
    const input =
      String.raw`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],` +
      String.raw`"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`;
    const expected =
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],` +
      String.raw`"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });

  it('sorts keys by UTF-16 code units, as in the RFC 8785 §3.2.3 example', () => {
    const input =
      String.raw`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh",` +
      String.raw`"1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control",` +
      String.raw`"\u00f6":"Latin Small Letter O With Diaeresis"}`;
    // Compared as text: re-parsing would list the integer-like key "1" first (ECMAScript property order).
    expect(canonicalJson(JSON.parse(input))).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('writes numbers in ECMAScript shortest form (RFC 8785 Appendix B samples)', () => {
    const samples: Array<[number, string]> = [
      [0, '0'],
      [-0, '0'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [9007199254740992, '9007199254740992'],
      [295147905179352830000, '295147905179352830000'],
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
      [333333333.3333333, '333333333.3333333'],
    ];
    for (const [value, text] of samples) expect(canonicalJson(value), String(value)).toBe(text);
  });

  it('orders nested keys and keeps unicode unescaped', () => {
    const text = canonicalJson({ b: { z: 1, a: [true, null] }, a: 'é ✓ 😀' });
    expect(text).toBe('{"a":"é ✓ 😀","b":{"a":[true,null],"z":1}}');
  });

  it('gives the same text whatever order the entry was built in, and after a JSON round trip', () => {
    const entry = entryFromEvent(sampleEvent(3), 3);
    const reordered = Object.fromEntries(Object.entries(entry).reverse());
    expect(canonicalJson(reordered)).toBe(canonicalEntry(entry));
    expect(canonicalJson(JSON.parse(JSON.stringify(entry)))).toBe(canonicalEntry(entry));
  });
});

describe('canonicalEntry (the fixed-shape writer)', () => {
  // Awkward text: quotes, backslashes, control characters, U+2028, astral and non-ASCII characters.
  const TEXTS = ['', 'plain', 'quote " and \\ backslash', 'tab\tnew\nline\u0001\u001f', '\u2028\u2029', 'é ✓ 😀 \ud83d\ude00', '</script>', '{"json":1}'];
  const NUMBERS = [0, 1, 0.1, 1.25, 333333333.3333333, 1e21, 1e-7, 5e-324, 123456789.5, 0.6375549999993382];

  it('writes exactly what the general RFC 8785 canonicaliser writes, for 2,000 generated entries', () => {
    let state = 7;
    const next = (n: number) => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
    const text = () => TEXTS[next(TEXTS.length)]!;
    for (let seq = 1; seq <= 2000; seq++) {
      // Any JSON tree up to three levels deep, with member names that UTF-16 and code point order
      // sort differently (U+FB33 against U+1F600) and that need escaping.
      const NAMES = [...TEXTS, 'a', 'B', '\ufb33', '\ud83d\ude00', '\u0080', '1', '10', '__proto__'];
      const json = (depth: number): unknown => {
        switch (next(depth > 2 ? 5 : 7)) {
          case 0: return text();
          case 1: return NUMBERS[next(NUMBERS.length)]! * (next(2) === 0 ? 1 : -1);
          case 2: return next(2) === 0;
          case 3: return null;
          case 4: return undefined;
          case 5: return Array.from({ length: next(4) }, () => json(depth + 1));
          default: {
            const object: Record<string, unknown> = {};
            for (let i = next(5); i > 0; i--) Object.defineProperty(object, NAMES[next(NAMES.length)]!, { value: json(depth + 1), enumerable: true, writable: true, configurable: true });
            return object;
          }
        }
      };
      const parameters: Record<string, unknown> = {};
      for (let i = next(5); i > 0; i--) {
        Object.defineProperty(parameters, NAMES[next(NAMES.length)]! || 'k', { value: json(1), enumerable: true, writable: true, configurable: true });
      }
      const event = {
        ...sampleEvent(seq),
        requestId: `${text()}-${seq}`,
        operation: text() || 'Encrypt',
        principalArn: next(3) === 0 ? undefined : text(),
        principalAccount: next(3) === 0 ? undefined : text(),
        sourceAddress: text(),
        keyArns: Array.from({ length: next(3) }, text),
        parameters,
        outcome: text() || 'Success',
        decision: next(3) === 0 ? undefined : { allowed: next(2) === 0, reason: text() },
        durationMs: NUMBERS[next(NUMBERS.length)]!,
      };
      const entry = entryFromEvent(event, seq, next(2) === 0 ? 'request' : 'background');
      expect(canonicalEntry(entry)).toBe(canonicalJson(entry));
    }
  });
});

describe('entryFromEvent', () => {
  it('maps every event field, with absent values as null', () => {
    const event = { ...sampleEvent(7), principalArn: undefined, principalAccount: undefined, decision: undefined };
    const entry = entryFromEvent(event, 7);
    expect(entry).toEqual({
      seq: 7,
      time: event.time.toISOString(),
      requestId: 'req-000007',
      operation: 'Decrypt',
      principalArn: null,
      principalAccount: null,
      sourceAddress: '10.0.0.7',
      keyArns: event.keyArns,
      parameters: event.parameters,
      outcome: event.outcome,
      decision: null,
      durationMs: event.durationMs,
      kind: 'request',
    });
    expect(entryFromEvent(sampleEvent(1), 1, 'background').kind).toBe('background');
    expect(entryFromEvent(sampleEvent(1), 1).decision).toEqual({ allowed: true, reason: 'key policy statement 1' });
  });

  it('turns undefined parameters into null, Dates into ISO strings, -0 into 0', () => {
    const event = { ...sampleEvent(1), parameters: { a: undefined, b: [1, undefined], at: new Date(0), z: -0 } };
    expect(canonicalEntry(entryFromEvent(event, 1))).toContain(
      '"parameters":{"a":null,"at":"1970-01-01T00:00:00.000Z","b":[1,null],"z":0}',
    );
  });

  it('sorts parameter names as the general canonicaliser does, for short and long lists', () => {
    for (const count of [2, 9, 16, 17, 40]) {
      const names = Array.from({ length: count }, (_, i) => ['b', 'a', 'é', '😀', '\ufb33', 'A', '1', '_'][i % 8]! + String(count - i));
      const parameters = Object.fromEntries(names.map((name, i) => [name, i]));
      const entry = entryFromEvent({ ...sampleEvent(1), parameters }, 1);
      expect(canonicalEntry(entry), `${count} names`).toBe(canonicalJson(entry));
    }
  });

  it('keeps a "__proto__" parameter as data', () => {
    const parameters = JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>;
    const canonical = canonicalEntry(entryFromEvent({ ...sampleEvent(1), parameters }, 1));
    expect(canonical).toContain('"parameters":{"__proto__":{"x":1}}');
  });

  it('refuses bytes anywhere in the parameters, naming the path but never the bytes', () => {
    const secret = Buffer.from('TOP-SECRET-PLAINTEXT');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ plaintext: secret }, 'parameters.plaintext'],
      [{ nested: { deeper: [1, new Uint8Array(secret)] } }, 'parameters.nested.deeper[1]'],
      [{ view: new DataView(secret.buffer) }, 'parameters.view'],
      [{ raw: secret.buffer }, 'parameters.raw'],
      [{ serialized: secret.toJSON() }, 'parameters.serialized'],
    ];
    for (const [parameters, path] of cases) {
      let caught: unknown;
      try {
        entryFromEvent({ ...sampleEvent(1), parameters }, 1);
      } catch (error) {
        caught = error;
      }
      expect(caught, path).toBeInstanceOf(TypeError);
      expect((caught as Error).message).toContain(path);
      expect((caught as Error).message).not.toContain('TOP-SECRET');
    }
  });

  it('refuses values JSON would silently change', () => {
    const bad: unknown[] = [NaN, Infinity, 1n, () => 1, Symbol('s'), new Map([[1, 2]]), new Set([1]), new Date(NaN)];
    bad.push('lone \ud800 surrogate', 'lone \udc00 surrogate', 'a pair reversed \udc00\ud800', 'high at the end \ud83d');
    for (const value of bad) expect(() => toJsonValue({ value }, 'parameters'), String(value)).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toJsonValue(cyclic, 'parameters')).toThrow(/nested deeper/);
    expect(() => toJsonValue({ ['lone \ud800 key']: 1 }, 'parameters')).toThrow(/parameters key holds a lone UTF-16 surrogate/);
    expect(() => toJsonValue({ a: [{ b: NaN }] }, 'parameters')).toThrow(/^parameters\.a\[0\]\.b is not a finite number$/);
  });

  it('copies an array with holes as nulls, and nests exactly 32 levels but not 33', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(toJsonValue([1, , 3], 'parameters')).toEqual([1, null, 3]);
    const nest = (levels: number): unknown => (levels === 0 ? 'leaf' : { inner: nest(levels - 1) });
    expect(() => toJsonValue(nest(32), 'parameters')).not.toThrow();
    expect(() => toJsonValue(nest(33), 'parameters')).toThrow(/nested deeper than 32 levels/);
  });

  it('refuses a bad seq, time or duration', () => {
    expect(() => entryFromEvent(sampleEvent(1), 0)).toThrow(RangeError);
    expect(() => entryFromEvent(sampleEvent(1), 1.5)).toThrow(RangeError);
    expect(() => entryFromEvent({ ...sampleEvent(1), time: new Date(NaN) }, 1)).toThrow(TypeError);
    expect(() => entryFromEvent({ ...sampleEvent(1), durationMs: NaN }, 1)).toThrow(TypeError);
  });
});
