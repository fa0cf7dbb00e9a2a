import canonicalize from 'canonicalize';

/** A value that survives JSON.stringify → JSON.parse unchanged, so its canonical form is stable. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Deeper nesting than any operation records; also how a cyclic object is caught. */
const MAX_DEPTH = 32;

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: keys sorted by UTF-16 code units
 * (§3.2.3), numbers in ECMAScript shortest form (§3.2.2.3), minimal string escapes (§3.2.2.2).
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonical JSON needs a JSON value, not undefined');
  return text;
}

/**
 * Copies `value` into a plain JSON tree: undefined becomes null, a Date its ISO string, -0 becomes 0.
 * Throws a TypeError naming the path (never the value) for bytes of any kind — audit parameters never
 * hold plaintext or key material (DESIGN.md invariant 4), so bytes here mean a bug upstream — and for
 * anything JSON would silently change (NaN, bigint, Map, class instances, functions).
 */
export function toJsonValue(value: unknown, path: string, depth = 0): JsonValue {
  if (depth > MAX_DEPTH) throw new TypeError(`${path} is nested deeper than ${MAX_DEPTH} levels (or is cyclic)`);
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path} is not a finite number`);
      return value === 0 ? 0 : value;
    case 'string':
      return wellFormed(value, path);
    case 'object':
      return value === null ? null : objectToJson(value, path, depth);
    default:
      throw new TypeError(`${path} is a ${typeof value}, which JSON cannot hold`);
  }
}

function objectToJson(value: object, path: string, depth: number): JsonValue {
  if (isBinary(value)) {
    throw new TypeError(`${path} holds bytes; audit entries must never carry binary data (it may be a secret)`);
  }
  if (Array.isArray(value)) {
    // Array.from visits holes as undefined (→ null), which map() would skip.
    return Array.from(value as unknown[], (item, index) => toJsonValue(item, `${path}[${index}]`, depth + 1));
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`${path} is an invalid Date`);
    return value.toISOString();
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw new TypeError(`${path} is a ${name}; only plain objects, arrays and primitives are recorded`);
  }
  // Object.fromEntries defines own properties, so a "__proto__" key stays data instead of a prototype.
  return Object.fromEntries(
    Object.keys(value).map((key) => [
      wellFormed(key, `${path} key`),
      toJsonValue((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1),
    ]),
  );
}

/** Buffers, typed arrays, DataViews, ArrayBuffers, and a Buffer already turned into `{type:'Buffer', data}`. */
function isBinary(value: object): boolean {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return true;
  const serialized = value as { type?: unknown; data?: unknown };
  return serialized.type === 'Buffer' && Array.isArray(serialized.data);
}

/**
 * RFC 8785 §3.1 requires I-JSON (RFC 7493 §2.1): strings hold no lone surrogates. A lone surrogate
 * would also turn into U+FFFD when the row is stored as UTF-8, breaking the hash on re-reading.
 * String.prototype.isWellFormed (ES2024, in Node 20) is exactly that check, made natively; it
 * replaces a regular expression with lookbehind that said the same less plainly.
 */
function wellFormed(text: string, path: string): string {
  if (!text.isWellFormed()) throw new TypeError(`${path} holds a lone UTF-16 surrogate (RFC 8785 §3.1)`);
  return text;
}
